"""Every health signal, declared once: its levels, minimum volume, unit, wording, and the
level from which it puts a function on fire.

The fleet query's ``on_fire`` column (``ops.rules.sql``) and the reasons the pages, the JSON
API and the alert evaluator show (``ops.rules.evaluate``) are both generated from these
declarations, so a page and an alert cannot disagree.

A signal whose ``fires`` is None never puts a function on fire and is not listed among a
row's reasons: it is there for alert rules that name it (today: dead-letter errors, the
cold-start rate and cost, which no page judges yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.OK: 0, Level.WARN: 1, Level.BAD: 2}


@dataclass(frozen=True)
class Threshold:
    """``value >= at`` (``value > at`` when strict), and the signal's volume column at least
    ``min_volume`` when one is given."""

    at: float
    min_volume: float | None = None
    strict: bool = False

    def implies(self, other: "Threshold") -> bool:
        """Whether every value meeting this threshold also meets ``other`` (lets the SQL drop
        a redundant condition)."""
        if other.min_volume is not None and (self.min_volume is None or self.min_volume < other.min_volume):
            return False
        if self.at > other.at:
            return True
        return self.at == other.at and (self.strict or not other.strict)


@dataclass(frozen=True)
class Signal:
    key: str
    column: str  # the record field (and fleet SQL column) holding the value
    unit: str
    warn: Threshold | None = None
    bad: Threshold | None = None
    fires: Level | None = None  # the level from which the function is on fire; None: never
    volume: str | None = None  # the column a threshold's min_volume is counted in
    # Reason text per level: a format string over the record (``Record.words``) and ``value``.
    wording: dict[Level, str] = field(default_factory=dict)

    def thresholds(self) -> list[tuple[Level, Threshold]]:
        """Worst first: the first one met is the signal's level."""
        return [(lvl, t) for lvl, t in ((Level.BAD, self.bad), (Level.WARN, self.warn)) if t is not None]

    def firing_thresholds(self) -> list[Threshold]:
        """The thresholds whose level is at or above ``fires``."""
        if self.fires is None:
            return []
        return [t for lvl, t in self.thresholds() if lvl.rank >= self.fires.rank]


def _words(text: str) -> dict[Level, str]:
    return {Level.WARN: text, Level.BAD: text}


ERROR_RATE = Signal(
    key="error_rate",
    column="error_rate",
    unit="%",
    volume="errors",
    # A single failed call of three is not a fire: at least 5 errors before it is.
    warn=Threshold(1.0, min_volume=1),
    bad=Threshold(5.0, min_volume=5),
    fires=Level.BAD,
    wording={Level.WARN: "error rate {value:.1f} %", Level.BAD: "error rate {value:.1f} % ({errors:,} errors)"},
)
# Errors as a count: no level of their own (they are the error rate's volume); alert rules set one.
ERRORS = Signal(key="errors", column="errors", unit="count", wording=_words("errors {errors:,}"))
THROTTLES = Signal(
    key="throttles",
    column="throttles",
    unit="count",
    bad=Threshold(1.0),
    fires=Level.BAD,
    wording=_words("throttles {throttles:,}{reserved_note}"),
)
P99_OF_TIMEOUT = Signal(
    key="p99_of_timeout",
    column="p99_pct",
    unit="% of timeout",
    warn=Threshold(80.0),
    bad=Threshold(95.0),
    fires=Level.WARN,
    wording=_words("p99 {value:.0f} % of {timeout_s} s timeout"),
)
# A DLQ that fills up within the judged window; old messages nobody redrove do not page anyone.
DLQ_GROWTH = Signal(
    key="dlq_growth",
    column="dlq_growth",
    unit="messages",
    bad=Threshold(0.0, strict=True),
    fires=Level.BAD,
    wording=_words("DLQ depth {dlq_depth:,} messages (+{dlq_growth:,} new)"),
)
ASYNC_EVENTS_DROPPED = Signal(
    key="async_events_dropped",
    column="async_events_dropped",
    unit="count",
    bad=Threshold(0.0, strict=True),
    fires=Level.BAD,
    wording=_words("async events dropped {async_events_dropped:,}"),
)
ITERATOR_AGE = Signal(
    key="iterator_age",
    column="iterator_age_max",
    unit="ms",
    warn=Threshold(60_000.0),
    fires=Level.WARN,
    wording=_words("iterator age {iterator_age_min:.0f} min"),
)
CONCURRENCY = Signal(
    key="concurrency",
    column="concurrency_pct",
    unit="% of limit",
    warn=Threshold(90.0),
    fires=Level.WARN,
    wording=_words("concurrency {concurrency_max:.0f} of {concurrency_limit}"),
)
# Declared for the alert evaluator; no page judges them yet, so they never put a function on fire.
DEAD_LETTER_ERRORS = Signal(
    key="dead_letter_errors",
    column="dead_letter_errors",
    unit="count",
    bad=Threshold(0.0, strict=True),
    wording=_words("dead-letter errors {dead_letter_errors:,}"),
)
COLD_START_RATE = Signal(
    key="cold_start_rate",
    column="cold_pct",
    unit="% of invocations",
    volume="reports",
    warn=Threshold(10.0, min_volume=100),
    bad=Threshold(25.0, min_volume=100),
    wording=_words("cold starts {value:.0f} % of invocations"),
)
COST = Signal(key="cost", column="cost_usd", unit="USD", wording=_words("cost ${value:,.2f}"))

# In the order a row's reasons are listed.
SIGNALS: tuple[Signal, ...] = (
    ERROR_RATE,
    ERRORS,
    THROTTLES,
    P99_OF_TIMEOUT,
    DLQ_GROWTH,
    ASYNC_EVENTS_DROPPED,
    ITERATOR_AGE,
    CONCURRENCY,
    DEAD_LETTER_ERRORS,
    COLD_START_RATE,
    COST,
)
BY_KEY = {s.key: s for s in SIGNALS}
# The signals a page judges: those that can put a function on fire.
PAGE_SIGNALS: tuple[Signal, ...] = tuple(s for s in SIGNALS if s.fires is not None)
