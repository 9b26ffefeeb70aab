"""Lambda pricing and the cost model. ``lambda_cost`` is the entry point the read side uses."""

from ops.costs.model import Bill, ephemeral_gb_seconds, lambda_cost, monthly_bill

__all__ = ["Bill", "ephemeral_gb_seconds", "lambda_cost", "monthly_bill"]
