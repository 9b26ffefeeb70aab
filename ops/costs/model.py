"""Cost of Lambda usage from requests and billed GB-seconds (REPORT's Billed Duration × memory)."""

from __future__ import annotations

from ops.costs.pricing import price_for


def lambda_cost(*, region: str, architecture: str, requests: float, gb_seconds: float) -> float:
    """USD for ``requests`` invocations and ``gb_seconds`` of billed compute, first-tier rates,
    before the free tier (the free tier is per account per month, not per function)."""
    price = price_for(region=region, architecture=architecture)
    return requests * price.request_usd + gb_seconds * price.gb_second_usd
