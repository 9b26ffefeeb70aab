"""The SQL side of the rules: the same declarations rendered as Postgres expressions.

Thresholds are written into the SQL as ``double precision`` literals (``repr`` of the float,
which round-trips exactly), so the comparison is made in float8 as it is in Python whatever
the column's type (a ratio of bigint sums is numeric). A NULL value or volume never meets a
threshold, as None does not in ``ops.rules.evaluate``.
"""

from __future__ import annotations

from ops.rules.signals import PAGE_SIGNALS, Level, Signal, Threshold


def _literal(x: float) -> str:
    return f"CAST({float(x)!r} AS double precision)"


def threshold_sql(signal: Signal, threshold: Threshold, *, table: str) -> str:
    op = ">" if threshold.strict else ">="
    cond = f"{table}.{signal.column} {op} {_literal(threshold.at)}"
    if threshold.min_volume is not None:
        cond = f"({cond} AND {table}.{signal.volume} >= {_literal(threshold.min_volume)})"
    return cond


def level_sql(signal: Signal, *, table: str) -> str:
    """A text expression: the signal's level, 'bad', 'warn' or 'ok'."""
    whens = " ".join(
        f"WHEN {threshold_sql(signal, t, table=table)} THEN '{lvl.value}'" for lvl, t in signal.thresholds()
    )
    return f"(CASE {whens} ELSE '{Level.OK.value}' END)" if whens else f"'{Level.OK.value}'"


def fires_sql(signal: Signal, *, table: str) -> str | None:
    """The condition under which this signal puts a function on fire (None: it never does)."""
    thresholds = signal.firing_thresholds()
    # A threshold that implies another one already listed adds nothing (p99 ≥ 95 % ⇒ ≥ 80 %).
    kept = [
        t
        for i, t in enumerate(thresholds)
        if not any(j != i and t.implies(o) and not (o.implies(t) and j > i) for j, o in enumerate(thresholds))
    ]
    if not kept:
        return None
    return " OR ".join(threshold_sql(signal, t, table=table) for t in kept)


def on_fire_sql(*, table: str, signals: tuple[Signal, ...] = PAGE_SIGNALS) -> str:
    """A boolean expression over ``table``'s columns: is the row on fire (never NULL)."""
    conds = [c for c in (fires_sql(s, table=table) for s in signals) if c]
    if not conds:
        return "FALSE"
    return "(\n      " + "\n      OR ".join(conds) + "\n    ) IS TRUE"
