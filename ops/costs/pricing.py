"""Lambda on-demand prices per region and architecture (first volume tier).

Source: aws.amazon.com/lambda/pricing, as summarised in research/perf-reliability-facts.md §4
(read 2026-11). Requests $0.20 per million; duration $0.0000166667 per GB-s (x86_64) and
$0.0000133334 per GB-s (arm64) in us-east-1 and most commercial regions.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-11-01"


@dataclass(frozen=True)
class Price:
    request_usd: float
    gb_second_usd: float


_DEFAULT = {
    "x86_64": Price(request_usd=0.20 / 1_000_000, gb_second_usd=0.0000166667),
    "arm64": Price(request_usd=0.20 / 1_000_000, gb_second_usd=0.0000133334),
}
# Regions whose prices differ from the default table go here, each with its source.
_REGIONAL: dict[str, dict[str, Price]] = {}


def price_for(*, region: str, architecture: str) -> Price:
    table = _REGIONAL.get(region, _DEFAULT)
    return table.get(architecture, table["x86_64"])
