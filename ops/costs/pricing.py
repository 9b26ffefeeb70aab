"""Lambda prices per region and architecture, dated and sourced.

Source: https://aws.amazon.com/lambda/pricing/ (US East (N. Virginia) rates, which most
commercial regions share), read 2026-11 as summarised in research/perf-reliability-facts.md §4,
and AWS's own worked examples on that page (see tests/ops/costs/test_costs.py):
- requests: $0.20 per million (x86_64 and arm64);
- duration per GB-second, in monthly tiers aggregated per account (or organisation) ×
  region × architecture:
    x86_64: $0.0000166667 for the first 6 B GB-s, $0.000015 for the next 9 B, $0.0000133334 above 15 B;
    arm64:  $0.0000133334 for the first 7.5 B GB-s, $0.0000120001 for the next 11.25 B, $0.0000106667 above 18.75 B;
- ephemeral storage above the free 512 MB: $0.0000000309 per GB-s (x86_64 and arm64);
- provisioned concurrency: x86_64 $0.0000041667 per GB-s allocated and $0.0000097222 per GB-s of
  duration on it; arm64 $0.0000033334 and $0.0000077778;
- free tier every month: 1 M requests and 400,000 GB-s (not for provisioned concurrency).
The arm64 third tier and the ephemeral-storage rate are marked [R] (recalled) in the research
notes; check them against the page before relying on them to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-11-01"
SOURCE = "https://aws.amazon.com/lambda/pricing/"
FREE_REQUESTS_PER_MONTH = 1_000_000
FREE_GB_SECONDS_PER_MONTH = 400_000
FREE_EPHEMERAL_MB = 512


@dataclass(frozen=True)
class Tier:
    up_to_gb_s: float | None  # cumulative monthly GB-s at which this tier ends; None = no end
    usd: float


@dataclass(frozen=True)
class Price:
    request_usd: float
    gb_second_usd: float  # first tier; what ``lambda_cost`` uses
    tiers: tuple[Tier, ...] = ()
    ephemeral_gb_second_usd: float = 0.0000000309
    pc_gb_second_usd: float = 0.0
    pc_duration_gb_second_usd: float = 0.0


_REQUEST = 0.20 / 1_000_000
_DEFAULT = {
    "x86_64": Price(
        request_usd=_REQUEST,
        gb_second_usd=0.0000166667,
        tiers=(Tier(6e9, 0.0000166667), Tier(15e9, 0.000015), Tier(None, 0.0000133334)),
        pc_gb_second_usd=0.0000041667,
        pc_duration_gb_second_usd=0.0000097222,
    ),
    "arm64": Price(
        request_usd=_REQUEST,
        gb_second_usd=0.0000133334,
        tiers=(Tier(7.5e9, 0.0000133334), Tier(18.75e9, 0.0000120001), Tier(None, 0.0000106667)),
        pc_gb_second_usd=0.0000033334,
        pc_duration_gb_second_usd=0.0000077778,
    ),
}
# Regions whose prices differ from the default table go here, each with its source and date.
_REGIONAL: dict[str, dict[str, Price]] = {}


def price_for(*, region: str, architecture: str) -> Price:
    table = _REGIONAL.get(region, _DEFAULT)
    return table.get(architecture, table["x86_64"])


def tiered_compute_usd(*, price: Price, gb_seconds: float, already_used_gb_s: float = 0.0) -> float:
    """Duration charge for ``gb_seconds`` this month after ``already_used_gb_s`` were billed."""
    if not price.tiers:
        return gb_seconds * price.gb_second_usd
    usd, lower = 0.0, 0.0
    start, end = already_used_gb_s, already_used_gb_s + gb_seconds
    for tier in price.tiers:
        upper = float("inf") if tier.up_to_gb_s is None else tier.up_to_gb_s
        usd += max(0.0, min(end, upper) - max(start, lower)) * tier.usd
        lower = upper
    return usd
