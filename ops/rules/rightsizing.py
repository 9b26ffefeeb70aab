"""The right-sizing rule: from a week's peak memory use and its out-of-memory errors to an
action — shrink (with the saving), add memory (with how much and what it costs), or fits —
priced in dollars per month either way.

The one algorithm the function page and the JSON API use.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ops.costs import lambda_cost
from ops.rules.cost import ESTIMATED_MS, total_gb_seconds

WINDOW = timedelta(days=7)
HEADROOM = 1.25  # keep a quarter above the largest memory use seen
NEAR_FULL = 0.9  # a peak at 90 % of the size is one spike from being killed: never "fits"
GROW = 1.5  # after out-of-memory kills the real need is unknown (the peak is the ceiling): +50 %
STEP_MB = 128
MIN_MB = 128
MAX_MB = 10240  # Lambda's largest memory size
DAYS_PER_MONTH = 30
# What the rule reads from ``series_totals`` over the window.
COLUMNS = ("invocations", "memory_used_max_mb", "billed_gb_s", ESTIMATED_MS)

# Error lines that mean the runtime ran out of memory: Lambda's own (the sandbox killed at the
# limit: "Runtime exited with error: signal: killed", Runtime.OutOfMemory) and the runtimes'.
_OOM = re.compile(
    r"signal: killed|Runtime\.OutOfMemory|OutOfMemoryError|\bMemoryError\b|heap out of memory|out of memory",
    re.I,
)


class Verdict(StrEnum):
    SHRINK = "shrink"
    ADD = "add"
    FITS = "fits"


def is_out_of_memory(*, error_type: str, message: str) -> bool:
    """Whether an error group (type + normalised message) is an out-of-memory kill."""
    return bool(_OOM.search(error_type or "") or _OOM.search(message or ""))


@dataclass
class RightSizing:
    used_max_mb: float
    configured_mb: int
    suggested_mb: int
    monthly_now_usd: float  # compute at the configured size, the window scaled to 30 days
    monthly_at_suggested_usd: float
    oom_errors: int = 0  # out-of-memory / killed errors in the window

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used_max_mb / self.configured_mb if self.configured_mb else 0.0

    @property
    def verdict(self) -> Verdict:
        if self.suggested_mb > self.configured_mb:
            return Verdict.ADD
        if self.suggested_mb < self.configured_mb and self.monthly_saving_usd >= 0.01:
            return Verdict.SHRINK
        return Verdict.FITS

    @property
    def monthly_saving_usd(self) -> float:
        return max(0.0, self.monthly_now_usd - self.monthly_at_suggested_usd)

    @property
    def monthly_extra_usd(self) -> float:
        return max(0.0, self.monthly_at_suggested_usd - self.monthly_now_usd)

    @property
    def worth_it(self) -> bool:
        """Shrinking saves at least a cent a month."""
        return self.verdict is Verdict.SHRINK


def _round_up(mb: float) -> int:
    return max(MIN_MB, int(math.ceil(mb / STEP_MB) * STEP_MB))


def suggested_memory_mb(used_max_mb: float) -> int:
    """The smallest 128 MB multiple with a quarter of headroom over the peak used (≥ 128 MB)."""
    return _round_up(used_max_mb * HEADROOM)


def rightsizing_of(
    *, totals: dict, memory_mb: int, region: str, architecture: str, oom_errors: int = 0
) -> RightSizing | None:
    """Max memory used over ``WINDOW`` (``totals``: ``COLUMNS`` over it) and the window's
    out-of-memory errors vs the configured size.

    1. No memory use seen (no REPORT lines) and no out-of-memory error: no hint.
    2. Too small — the peak reached ``NEAR_FULL`` of the size, or out-of-memory errors
       happened: add memory, at least a quarter over the peak and at least ``GROW`` × the size
       (a killed invocation's peak is the ceiling, not its need), ≤ 10,240 MB.
    3. Otherwise the peak × 1.25 rounded up to 128 MB, never above the configured size.
    4. The month's compute: the window's GB-s (the cost rule) scaled to 30 days; at the
       suggested size the same GB-s × suggested ÷ configured. That assumes the same billed
       duration at the other size (true for I/O-bound code; CPU scales with memory, so a
       CPU-bound function may run longer when smaller, shorter when larger). Requests cost the
       same, so they are left out.
    """
    used = totals.get("memory_used_max_mb") or 0.0
    if not used and not oom_errors:
        return None
    if oom_errors or used >= NEAR_FULL * memory_mb:
        suggested = min(MAX_MB, max(suggested_memory_mb(used), _round_up(memory_mb * GROW)))
        suggested = max(suggested, memory_mb)
    else:
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
        monthly_at_suggested_usd=new_usd,
        oom_errors=int(oom_errors),
    )
