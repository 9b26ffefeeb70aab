"""The default rule pack: one rule per signal that has a level in ``ops.rules.signals``, scope
"all functions", so every function is watched from its first poll.

Each threshold is the signal's own ``Threshold`` (the level from which the pages put a function
on fire, or its worst level for signals that never do): the number is written once, in
ops/rules/signals.py, and copied into the rule row only when the pack is installed, so an
operator can edit it afterwards. Installing again never overwrites an edited rule.

Signals without a level (errors as a count, cost) have no sensible default for every function
and ship no rule; region headroom borrows the concurrency level (≥ 90 % of the limit used is
< 10 % left) and a poller failing is judged by ops.pollers.health.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.models.choices import AlertComparison, AlertScope, AlertSeverity, AlertSignal, MissingData
from ops.rules import signals as sig
from ops.rules.signals import Threshold


@dataclass(frozen=True)
class PackRule:
    key: str
    name: str
    signal: str
    threshold: Threshold
    severity: str
    m: int
    n: int
    missing: str = MissingData.NOT_BREACHING
    # "lt": the value must fall below the threshold (headroom); otherwise the Threshold's own
    # strictness decides between > and ≥.
    below: bool = False

    @property
    def comparison(self) -> str:
        if self.below:
            return AlertComparison.LT if self.threshold.strict else AlertComparison.LTE
        return AlertComparison.GT if self.threshold.strict else AlertComparison.GTE


def _headroom_threshold() -> Threshold:
    # The concurrency level as headroom: ≥ 90 % used is ≤ 10 % left (not strict, as the level).
    at = 100.0 - sig.CONCURRENCY.warn.at
    return Threshold(at, strict=False)


# Missing minutes: a Lambda metric has no data point in a minute nothing ran, which is not a
# breach (CloudWatch's advice for Lambda counts); hence "not breaching" throughout.
PACK: tuple[PackRule, ...] = (
    PackRule("error_rate", "Error rate high", AlertSignal.ERROR_RATE, sig.ERROR_RATE.bad, AlertSeverity.CRITICAL, 3, 5),
    PackRule("throttles", "Throttled", AlertSignal.THROTTLES, sig.THROTTLES.bad, AlertSeverity.WARNING, 3, 5),
    PackRule("p99_of_timeout", "Duration p99 near the timeout", AlertSignal.P99_OF_TIMEOUT,
             sig.P99_OF_TIMEOUT.warn, AlertSeverity.WARNING, 3, 5),
    PackRule("dlq_growth", "DLQ receiving messages", AlertSignal.DLQ_NEW_MESSAGES, sig.DLQ_GROWTH.bad,
             AlertSeverity.CRITICAL, 1, 5),
    PackRule("async_events_dropped", "Async events dropped", AlertSignal.ASYNC_EVENTS_DROPPED,
             sig.ASYNC_EVENTS_DROPPED.bad, AlertSeverity.CRITICAL, 1, 5),
    PackRule("dead_letter_errors", "Dead-letter delivery failing", AlertSignal.DEAD_LETTER_ERRORS,
             sig.DEAD_LETTER_ERRORS.bad, AlertSeverity.CRITICAL, 1, 5),
    PackRule("iterator_age", "Stream falling behind (iterator age)", AlertSignal.ITERATOR_AGE,
             sig.ITERATOR_AGE.warn, AlertSeverity.WARNING, 3, 5),
    PackRule("concurrency", "Concurrency near its limit", AlertSignal.CONCURRENCY, sig.CONCURRENCY.warn,
             AlertSeverity.WARNING, 3, 5),
    PackRule("cold_start_rate", "Many cold starts", AlertSignal.COLD_START_RATE, sig.COLD_START_RATE.bad,
             AlertSeverity.INFO, 5, 5),
    PackRule("region_headroom", "Region concurrency headroom low", AlertSignal.REGION_HEADROOM,
             _headroom_threshold(), AlertSeverity.WARNING, 3, 5, below=True),
    # Health already waits POLL_FAILING_CYCLES cadences before it says failing: one tick is enough.
    PackRule("poller_failing", "A poller failing", AlertSignal.POLLER_FAILING, Threshold(1.0),
             AlertSeverity.WARNING, 1, 1, missing=MissingData.IGNORE),
)
BY_KEY = {p.key: p for p in PACK}


def pack_rule_fields(p: PackRule) -> dict:
    """The AlertRule columns of one pack entry."""
    return {
        "name": p.name,
        "signal": str(p.signal),
        "scope": str(AlertScope.ALL),
        "comparison": str(p.comparison),
        "threshold": float(p.threshold.at),
        "min_volume": p.threshold.min_volume,
        "windows_m": p.m,
        "windows_n": p.n,
        "missing_data": str(p.missing),
        "severity": str(p.severity),
        "enabled": True,
    }


def rule_pack_install(*, rule_model=None) -> int:
    """Create the pack's rules that do not exist yet (by ``builtin`` key); never touches one
    that does, so edits and disabling survive. Returns how many it created.

    ``rule_model`` lets the data migration pass its historical model."""
    if rule_model is None:
        from ops.models import AlertRule as rule_model  # noqa: N813 - the class, by its model name
    have = set(rule_model.objects.filter(builtin__in=list(BY_KEY)).values_list("builtin", flat=True))
    created = 0
    for p in PACK:
        if p.key in have:
            continue
        # get_or_create on the unique builtin key: a concurrent install creates it once.
        _, made = rule_model.objects.get_or_create(builtin=p.key, defaults=pack_rule_fields(p))
        created += int(made)
    return created
