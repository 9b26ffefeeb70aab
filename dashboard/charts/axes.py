"""Value axes that show the signal: scaled to the data, round ticks, limits only in reach.

A limit (timeout, reserved concurrency, configured memory) far above the data used to set the
scale, so p50/p99 at 800 ms lay flat under a 15 s timeout line. Now the axis follows the data;
a limit within ``REACH`` × the data's peak is drawn as a dashed line (and the axis stretches
to it), one further away is named in a corner ("timeout 15 s, off scale").
"""

from __future__ import annotations

import math
from typing import Iterable

REACH = 2.0  # a limit up to this many times the data's peak is drawn
TICKS = 4  # about this many intervals on a value axis
HEADROOM = 1.05  # the peak never touches the top edge
NICE = (1.0, 2.0, 2.5, 5.0, 10.0)


def peak(*series: Iterable) -> float | None:
    """The highest known value over ``series`` (None when nothing is known)."""
    known = [v for s in series for v in s if v is not None]
    return max(known) if known else None


def nice_step(raw: float, *, integer: bool = False) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above ``raw`` (≥ 1 for whole counts)."""
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in NICE:
        step = m * 10**exp
        if step >= raw * (1 - 1e-9):
            break
    if integer:
        step = max(1.0, step if step >= 1 else 1.0)
        if step == 2.5:
            step = 2.0 if raw <= 2 else 5.0
    return step


def value_axis(top: float | None, *, integer: bool = False, cap: float | None = None) -> dict:
    """range [0, a round number above ``top``] with ``dtick`` ticks from 0; [0, 1] when the
    data are all zero or unknown. ``cap`` bounds it (100 for a percentage)."""
    if not top or top <= 0:
        step = 1.0 if integer else 0.25
        return {"range": [0, 1], "dtick": step, "tick0": 0, "autorange": False}
    step = nice_step(top * HEADROOM / TICKS, integer=integer)
    upper = math.ceil(top * HEADROOM / step - 1e-9) * step
    if cap is not None and top <= cap:
        upper = min(upper, cap)
    return {"range": [0, _clean(upper)], "dtick": _clean(step), "tick0": 0, "autorange": False}


def _clean(x: float) -> float | int:
    r = round(x, 12)
    return int(r) if float(r).is_integer() else r


def in_reach(limit: float | None, data_peak: float | None) -> bool:
    """Draw the limit as a line? Only when the data come within 1/REACH of it."""
    if limit is None or not data_peak or data_peak <= 0:
        return False
    return limit <= REACH * data_peak


def decimals_for(step: float) -> int:
    """Decimals a tick label needs for ticks ``step`` apart (0.25 → 2, 50 → 0)."""
    if step <= 0:
        return 0
    d = 0
    while d < 8 and abs(step * 10**d - round(step * 10**d)) > 1e-9:
        d += 1
    return d
