"""The right-sizing rule: from a week's peak memory use to a cheaper size and the saving.

The one algorithm the function page and the JSON API use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from ops.costs import lambda_cost
from ops.rules.cost import ESTIMATED_MS, total_gb_seconds

WINDOW = timedelta(days=7)
HEADROOM = 1.25  # keep a quarter above the largest memory use seen
STEP_MB = 128
MIN_MB = 128
DAYS_PER_MONTH = 30
# What the rule reads from ``series_totals`` over the window.
COLUMNS = ("invocations", "memory_used_max_mb", "billed_gb_s", ESTIMATED_MS)


@dataclass
class RightSizing:
    used_max_mb: float
    configured_mb: int
    suggested_mb: int
    monthly_now_usd: float
    monthly_saving_usd: float

    @property
    def worth_it(self) -> bool:
        return self.suggested_mb < self.configured_mb and self.monthly_saving_usd >= 0.01


def suggested_memory_mb(used_max_mb: float) -> int:
    """The smallest 128 MB multiple with a quarter of headroom over the peak used (≥ 128 MB)."""
    want = used_max_mb * HEADROOM
    return max(MIN_MB, int(math.ceil(want / STEP_MB) * STEP_MB))


def rightsizing_of(*, totals: dict, memory_mb: int, region: str, architecture: str) -> RightSizing | None:
    """Max memory used over ``WINDOW`` (``totals``: ``COLUMNS`` over it) vs configured.

    1. No memory use seen (no REPORT lines): no hint.
    2. Suggest the peak × 1.25 rounded up to 128 MB, never above the configured size.
    3. The month's compute now: the window's GB-s (the cost rule) scaled to 30 days; at the
       suggested size the same GB-s × suggested ÷ configured. The saving assumes the same
       billed duration at the smaller size (true for I/O-bound code; CPU scales with memory,
       so CPU-bound functions may run longer). Requests cost the same, so they are left out.
    """
    used = totals.get("memory_used_max_mb")
    if not used:
        return None
    suggested = min(suggested_memory_mb(used), memory_mb)
    scale = DAYS_PER_MONTH / WINDOW.days
    week_gb_s = total_gb_seconds(
        billed_gb_s=totals.get("billed_gb_s"), estimated_ms=totals.get(ESTIMATED_MS), memory_mb=memory_mb
    )
    gb_s = week_gb_s * scale
    now_usd = lambda_cost(region=region, architecture=architecture, requests=0, gb_seconds=gb_s)
    new_usd = lambda_cost(region=region, architecture=architecture, requests=0, gb_seconds=gb_s * suggested / memory_mb)
    return RightSizing(
        used_max_mb=used,
        configured_mb=memory_mb,
        suggested_mb=suggested,
        monthly_now_usd=now_usd,
        monthly_saving_usd=max(0.0, now_usd - new_usd),
    )
