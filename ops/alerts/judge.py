"""The alert state machine, pure: a rule's last N one-minute values in, the next state out.

Shared by the evaluator (ops.alerts.evaluate, one step per tick) and the 7-day preview
(ops.alerts.preview, one step per stored minute), so a preview replays exactly what the
evaluator would have done.

1. Each window is marked: breaching (the comparison holds, and the volume floor is met when the
   rule has one), not breaching, or missing (no data point: nothing ran that minute, or a ratio
   had no denominator).
2. Missing windows are treated as the rule says (CloudWatch's treat-missing-data):
   ``breaching`` / ``not_breaching`` count them as such; ``missing`` leaves them out (with none
   left, nothing is breaching); ``ignore`` leaves them out too, and keeps the current state
   when the newest window is missing (nothing new is known).
3. ``B`` = breaching windows. B ≥ M → firing. 0 < B < M → pending (from ok or resolved), or
   resolved when it was firing (CloudWatch's ALARM → OK: the M-of-N condition no longer holds).
   B = 0 → ok from pending, resolved from firing; resolved stays resolved until the next breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ops.models.choices import AlertComparison, AlertStateName, MissingData

OK, PENDING, FIRING, RESOLVED = (AlertStateName.OK.value, AlertStateName.PENDING.value, AlertStateName.FIRING.value,
                                 AlertStateName.RESOLVED.value)


@dataclass(frozen=True)
class Criteria:
    """What a rule judges with (an AlertRule's columns, or an unsaved form's)."""

    comparison: str
    threshold: float
    m: int
    n: int
    missing: str
    min_volume: float | None = None

    @classmethod
    def of(cls, rule) -> "Criteria":
        return cls(comparison=rule.comparison, threshold=float(rule.threshold), m=int(rule.windows_m),
                   n=int(rule.windows_n), missing=rule.missing_data, min_volume=rule.min_volume)


def compares(value: float, comparison: str, threshold: float) -> bool:
    if comparison == AlertComparison.GT:
        return value > threshold
    if comparison == AlertComparison.GTE:
        return value >= threshold
    if comparison == AlertComparison.LT:
        return value < threshold
    if comparison == AlertComparison.LTE:
        return value <= threshold
    raise ValueError(f"unknown comparison {comparison!r}")


def window_mark(value: float | None, volume: float | None, c: Criteria) -> bool | None:
    """True breaching, False not, None missing."""
    if value is None:
        return None
    if not compares(value, c.comparison, c.threshold):
        return False
    return c.min_volume is None or (volume is not None and volume >= c.min_volume)


@dataclass(frozen=True)
class Verdict:
    state: str
    breaching: int
    value: float | None  # the newest window's value (None when it is missing)


def state_next(current: str, marks: Sequence[bool | None], c: Criteria) -> tuple[str, int]:
    """The next state and the breaching count from the windows' marks (oldest first)."""
    if c.missing == MissingData.BREACHING:
        counted = [True if m is None else m for m in marks]
    elif c.missing == MissingData.NOT_BREACHING:
        counted = [False if m is None else m for m in marks]
    else:
        counted = [m for m in marks if m is not None]
    breaching = sum(1 for m in counted if m)
    if c.missing == MissingData.IGNORE and (not marks or marks[-1] is None):
        return current, breaching
    if breaching >= c.m:
        return FIRING, breaching
    if breaching > 0:
        return (RESOLVED if current == FIRING else (current if current == PENDING else PENDING)), breaching
    if current == FIRING:
        return RESOLVED, 0
    if current == PENDING:
        return OK, 0
    return current, 0  # ok stays ok, resolved stays resolved


def judge(current: str, values: Sequence[float | None], volumes: Sequence[float | None] | None,
          c: Criteria) -> Verdict:
    vols = volumes if volumes is not None else [None] * len(values)
    marks = [window_mark(v, vol, c) for v, vol in zip(values, vols)]
    state, breaching = state_next(current, marks, c)
    return Verdict(state=state, breaching=breaching, value=values[-1] if values else None)
