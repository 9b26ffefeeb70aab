"""Cost of Lambda usage: per period (``lambda_cost``) and as a monthly bill (``monthly_bill``).

GB-seconds come from REPORT's Billed Duration × memory when the logs poller saw the
invocations (since August 2025 Billed Duration includes the INIT phase for on-demand ZIP
functions, so it is the truth); otherwise from CloudWatch's Duration sum × configured memory
(an estimate: no per-invocation rounding up to the millisecond, no INIT).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.costs.pricing import (
    FREE_EPHEMERAL_MB,
    FREE_GB_SECONDS_PER_MONTH,
    FREE_REQUESTS_PER_MONTH,
    price_for,
    tiered_compute_usd,
)


def lambda_cost(
    *,
    region: str,
    architecture: str,
    requests: float,
    gb_seconds: float,
    ephemeral_gb_seconds: float = 0.0,
    pc_allocated_gb_seconds: float = 0.0,
    pc_gb_seconds: float = 0.0,
) -> float:
    """USD for ``requests`` invocations and ``gb_seconds`` of billed on-demand compute at
    first-tier rates, before the free tier (the free tier and volume tiers are per account per
    month, not per function — see ``monthly_bill``). Optional: extra ephemeral storage GB-s,
    provisioned concurrency allocated GB-s and duration GB-s spent on provisioned instances."""
    price = price_for(region=region, architecture=architecture)
    return (
        requests * price.request_usd
        + gb_seconds * price.gb_second_usd
        + ephemeral_gb_seconds * price.ephemeral_gb_second_usd
        + pc_allocated_gb_seconds * price.pc_gb_second_usd
        + pc_gb_seconds * price.pc_duration_gb_second_usd
    )


def ephemeral_gb_seconds(*, ephemeral_mb: float, billed_ms: float) -> float:
    """Extra storage above the free 512 MB, in GB-s."""
    return max(0.0, ephemeral_mb - FREE_EPHEMERAL_MB) / 1024.0 * billed_ms / 1000.0


@dataclass(frozen=True)
class Bill:
    requests_usd: float
    compute_usd: float
    ephemeral_usd: float
    provisioned_usd: float
    provisioned_duration_usd: float

    @property
    def total_usd(self) -> float:
        return self.requests_usd + self.compute_usd + self.ephemeral_usd + self.provisioned_usd + self.provisioned_duration_usd

    def cents(self) -> dict[str, float]:
        """Each line and the total rounded to the cent, the way AWS's examples print them."""
        lines = {
            "requests": self.requests_usd,
            "compute": self.compute_usd,
            "ephemeral": self.ephemeral_usd,
            "provisioned": self.provisioned_usd,
            "provisioned_duration": self.provisioned_duration_usd,
        }
        out = {k: round(v + 1e-9, 2) for k, v in lines.items()}
        out["total"] = round(sum(out.values()), 2)
        return out


def monthly_bill(
    *,
    region: str,
    architecture: str,
    requests: float,
    gb_seconds: float,
    ephemeral_gb_seconds: float = 0.0,
    pc_allocated_gb_seconds: float = 0.0,
    pc_requests: float = 0.0,
    pc_gb_seconds: float = 0.0,
    free_tier: bool = True,
    already_used_gb_s: float = 0.0,
) -> Bill:
    """A month's Lambda charges for one account × region × architecture.

    1. Requests: on-demand and provisioned requests together, less 1 M free.
    2. On-demand duration: less 400,000 free GB-s, then the volume tiers (starting after
       ``already_used_gb_s`` GB-s billed earlier in the month).
    3. Ephemeral storage above 512 MB, per GB-s.
    4. Provisioned concurrency: allocated GB-s, and duration on provisioned instances at its
       own (lower) rate; the free tier does not apply to either.
    """
    price = price_for(region=region, architecture=architecture)
    free_req = FREE_REQUESTS_PER_MONTH if free_tier else 0
    free_gbs = FREE_GB_SECONDS_PER_MONTH if free_tier else 0
    billable_requests = max(0.0, requests + pc_requests - free_req)
    billable_gbs = max(0.0, gb_seconds - free_gbs)
    return Bill(
        requests_usd=billable_requests * price.request_usd,
        compute_usd=tiered_compute_usd(price=price, gb_seconds=billable_gbs, already_used_gb_s=already_used_gb_s),
        ephemeral_usd=ephemeral_gb_seconds * price.ephemeral_gb_second_usd,
        provisioned_usd=pc_allocated_gb_seconds * price.pc_gb_second_usd,
        provisioned_duration_usd=pc_gb_seconds * price.pc_duration_gb_second_usd,
    )

