"""The Python side of the rules: a function's numbers in, findings (level + reason) out.

``Record`` is the small typed row every rule reads; the fleet row, the function page's totals
and (next) the alert evaluator's windows all become one. ``ops.rules.sql`` renders the same
declarations for Postgres; tests/ops/rules proves both give the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ops.rules.signals import PAGE_SIGNALS, SIGNALS, Level, Signal, Threshold

# Columns shown as whole numbers in a reason (sums of counts arrive as floats).
_COUNTS = ("errors", "throttles", "dlq_depth", "dlq_growth", "async_events_dropped", "dead_letter_errors")


class _Unknown:
    """Stands in for a None a reason names, so a partial row still reads (and never crashes)."""

    def __format__(self, spec: str) -> str:
        return "?"


_UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Record:
    """The columns the rules read; None where a value is not known (no data is not 0)."""

    invocations: float | None = None
    errors: float | None = None
    error_rate: float | None = None  # %
    throttles: float | None = None
    p99_pct: float | None = None  # duration p99 as % of the timeout
    timeout_s: int | None = None
    dlq_depth: float | None = None
    dlq_growth: float | None = None
    async_events_dropped: float | None = None
    iterator_age_max: float | None = None  # ms
    concurrency_max: float | None = None
    concurrency_limit: int | None = None
    concurrency_pct: float | None = None
    reserved_concurrency: int | None = None
    dead_letter_errors: float | None = None
    reports: float | None = None
    cold_pct: float | None = None
    cost_usd: float | None = None

    @classmethod
    def of(cls, obj) -> "Record":
        """The rule columns of any object that has them as attributes (missing ones are None)."""
        return cls(**{f.name: getattr(obj, f.name, None) for f in fields(cls)})

    def words(self) -> dict:
        """What a reason's format string may name: the columns (counts as integers) and a few
        phrasings derived from them."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in _COUNTS:
            if out[name] is not None:
                out[name] = int(out[name])
        reserved = self.reserved_concurrency
        out["reserved_note"] = f" (reserved {reserved})" if reserved is not None else ""
        out["iterator_age_min"] = self.iterator_age_max / 60000 if self.iterator_age_max is not None else None
        return {k: _UNKNOWN if v is None else v for k, v in out.items()}


@dataclass(frozen=True)
class Finding:
    signal: Signal
    level: Level
    value: float
    text: str

    @property
    def fires(self) -> bool:
        return self.signal.fires is not None and self.level.rank >= self.signal.fires.rank


def meets(threshold: Threshold, value: float | None, volume: float | None) -> bool:
    if value is None:
        return False
    if not (value > threshold.at if threshold.strict else value >= threshold.at):
        return False
    return threshold.min_volume is None or (volume is not None and volume >= threshold.min_volume)


def signal_level(signal: Signal, record: Record) -> Level:
    """The worst level whose threshold the record meets (``ok`` if none)."""
    value = getattr(record, signal.column)
    volume = getattr(record, signal.volume) if signal.volume else None
    for level, threshold in signal.thresholds():
        if meets(threshold, value, volume):
            return level
    return Level.OK


def value_level(signal: Signal, value: float | None) -> Level:
    """The level of a value alone, minimum volumes aside: how a table cell is shaded (a 6 %
    error rate reads red even on three calls, though it does not put the function on fire)."""
    for level, threshold in signal.thresholds():
        if value is not None and (value > threshold.at if threshold.strict else value >= threshold.at):
            return level
    return Level.OK


def evaluate(record: Record, *, signals: tuple[Signal, ...] = SIGNALS) -> list[Finding]:
    """Every signal the record is out of line on, in declaration order."""
    out = []
    words = None
    for signal in signals:
        level = signal_level(signal, record)
        if level is Level.OK:
            continue
        words = words or record.words()
        value = getattr(record, signal.column)
        text = signal.wording[level].format(value=value, **words)
        out.append(Finding(signal=signal, level=level, value=value, text=text))
    return out


def page_findings(record: Record) -> list[Finding]:
    """What the pages list as a row's reasons: the signals that can put a function on fire."""
    return evaluate(record, signals=PAGE_SIGNALS)


def on_fire(record: Record) -> bool:
    """The same verdict as the fleet query's ``on_fire`` column."""
    return any(f.fires for f in page_findings(record))
