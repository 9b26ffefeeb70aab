"""Lambda pricing and the cost model. ``lambda_cost`` is the one entry point the read side uses."""

from ops.costs.model import lambda_cost

__all__ = ["lambda_cost"]
