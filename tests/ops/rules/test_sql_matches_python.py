"""The SQL the fleet query uses and the Python the pages use give the same verdict on the same rows.

Thousands of rows — every threshold exactly, one float step either side, NULLs, zeros, zero
invocations — go into a temporary table in Postgres; the generated SQL judges them there and
``ops.rules.evaluate`` judges the same rows as read back (numeric columns arrive as Decimal and
become floats, as in the fleet). Both column types the fleet produces (numeric ratios of bigint
sums, and double precision) are tried.
"""

from __future__ import annotations

import math
import random

import pytest
from django.db import connection

from ops.rules.evaluate import Record, evaluate, on_fire, page_findings, signal_level
from ops.rules.signals import PAGE_SIGNALS, SIGNALS, Level
from ops.rules.sql import level_sql, on_fire_sql

pytestmark = pytest.mark.django_db

COLUMNS = (
    "invocations", "errors", "error_rate", "throttles", "p99_pct", "timeout_s", "dlq_depth", "dlq_growth",
    "async_events_dropped", "iterator_age_max", "concurrency_max", "concurrency_limit", "concurrency_pct",
    "reserved_concurrency", "dead_letter_errors", "reports", "cold_pct", "cost_usd",
)  # fmt: skip
INTEGER_COLUMNS = ("timeout_s", "concurrency_limit", "reserved_concurrency")


def _edges(values) -> list:
    """Each value, one float step below and above it, and the same ± 1."""
    out = set()
    for v in values:
        out |= {v, math.nextafter(v, -math.inf), math.nextafter(v, math.inf), v - 1, v + 1}
    return sorted(x for x in out if x >= 0)


def _candidates() -> dict[str, list]:
    """Per column: the thresholds and minimum volumes that read it, their edges, 0 and None."""
    marks: dict[str, set] = {c: {0.0, 0.5, 3.0, 250.0} for c in COLUMNS}
    for s in SIGNALS:
        for _, t in s.thresholds():
            marks[s.column].add(t.at)
            if t.min_volume is not None:
                marks[s.volume].add(float(t.min_volume))
    return {c: _edges(v) + [None] for c, v in marks.items()}


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    pools = _candidates()
    rows = []
    for i in range(n):
        row = {c: rng.choice(pools[c]) for c in COLUMNS}
        if i % 7 == 0:  # zero invocations: no error rate, whatever the errors
            row |= {"invocations": 0.0, "error_rate": None}
        if i % 11 == 0:  # a row that is out of line nowhere
            row = {c: None for c in COLUMNS}
        row["timeout_s"] = rng.choice([3, 30, 900])
        row["concurrency_limit"] = rng.choice([10, 1000])
        row["reserved_concurrency"] = rng.choice([None, 10])
        rows.append(row)
    return rows


def _judge_in_postgres(rows: list[dict], *, column_type: str) -> list[dict]:
    cols = ", ".join(f"{c} {'integer' if c in INTEGER_COLUMNS else column_type}" for c in COLUMNS)
    levels = ", ".join(f"{level_sql(s, table='t')} AS level_{s.key}" for s in SIGNALS)
    placeholders = ", ".join(f"%({c})s" for c in COLUMNS)
    with connection.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE rule_rows (id integer PRIMARY KEY, {cols})")
        cur.executemany(
            f"INSERT INTO rule_rows (id, {', '.join(COLUMNS)}) VALUES (%(id)s, {placeholders})",
            [{"id": i} | row for i, row in enumerate(rows)],
        )
        cur.execute(f"SELECT t.*, {levels}, {on_fire_sql(table='t')} AS on_fire FROM rule_rows t ORDER BY id")
        names = [c.name for c in cur.description]
        out = [dict(zip(names, r)) for r in cur.fetchall()]
        cur.execute("DROP TABLE rule_rows")
    return out


def _record(db_row: dict) -> Record:
    """The row as the fleet hands it to the rules: Decimals become floats, ints stay ints."""
    values = {}
    for c in COLUMNS:
        v = db_row[c]
        values[c] = v if v is None or c in INTEGER_COLUMNS else float(v)
    return Record(**values)


@pytest.mark.parametrize("column_type", ["numeric", "double precision"])
def test_sql_and_python_agree_on_every_signal_and_on_fire(column_type):
    rows = _rows(3000, seed=8)
    judged = _judge_in_postgres(rows, column_type=column_type)
    assert len(judged) == len(rows)
    seen_levels: dict[str, set] = {s.key: set() for s in SIGNALS}
    fires = 0
    for db_row in judged:
        record = _record(db_row)
        for s in SIGNALS:
            python_level = signal_level(s, record).value
            assert db_row[f"level_{s.key}"] == python_level, (s.key, record)
            seen_levels[s.key].add(python_level)
        assert db_row["on_fire"] is on_fire(record), record
        fires += db_row["on_fire"]
    # The rows really did exercise both sides of every threshold.
    for s in SIGNALS:
        expected = {"ok"} | {lvl.value for lvl, _ in s.thresholds()}
        assert seen_levels[s.key] == expected, s.key
    assert 0 < fires < len(rows)


def test_exact_thresholds_from_both_sides():
    """Spot checks at the edges, each judged by both sides."""
    cases = [
        (Record(error_rate=5.0, errors=5.0), "error_rate", "bad", True),
        (Record(error_rate=5.0, errors=4.0), "error_rate", "warn", False),  # too few errors to page
        (Record(error_rate=math.nextafter(5.0, 0), errors=50.0), "error_rate", "warn", False),
        (Record(error_rate=1.0, errors=1.0), "error_rate", "warn", False),
        (Record(error_rate=None, errors=9.0, invocations=0.0), "error_rate", "ok", False),
        (Record(p99_pct=80.0, timeout_s=3), "p99_of_timeout", "warn", True),
        (Record(p99_pct=95.0, timeout_s=3), "p99_of_timeout", "bad", True),
        (Record(p99_pct=math.nextafter(80.0, 0), timeout_s=3), "p99_of_timeout", "ok", False),
        (Record(dlq_growth=0.0, dlq_depth=380.0), "dlq_growth", "ok", False),  # old messages do not page
        (Record(throttles=1.0), "throttles", "bad", True),
        (Record(iterator_age_max=60_000.0), "iterator_age", "warn", True),
        (Record(concurrency_pct=90.0, concurrency_max=9.0, concurrency_limit=10), "concurrency", "warn", True),
        # declared, judged, but never on fire today
        (Record(cold_pct=90.0, reports=1000.0), "cold_start_rate", "bad", False),
        (Record(dead_letter_errors=3.0), "dead_letter_errors", "bad", False),
    ]
    rows = [{c: getattr(rec, c) for c in COLUMNS} for rec, *_ in cases]
    judged = _judge_in_postgres(rows, column_type="double precision")
    by_key = {s.key: s for s in SIGNALS}
    for (rec, key, level, fire), db_row in zip(cases, judged):
        assert signal_level(by_key[key], rec).value == level == db_row[f"level_{key}"], (key, rec)
        assert on_fire(rec) is fire is db_row["on_fire"], (key, rec)


def test_signals_that_cannot_fire_are_never_a_page_reason():
    rec = Record(cold_pct=90.0, reports=1000.0, dead_letter_errors=3.0, cost_usd=1e6, errors=1e6)
    assert [f.signal.key for f in evaluate(rec)] == ["dead_letter_errors", "cold_start_rate"]
    assert page_findings(rec) == [] and not on_fire(rec)
    assert all(s.fires is not None for s in PAGE_SIGNALS)
    assert {s.key for s in SIGNALS} - {s.key for s in PAGE_SIGNALS} == {
        "errors", "dead_letter_errors", "cold_start_rate", "cost"
    }
    assert on_fire_sql(table="t", signals=()) == "FALSE"
    assert level_sql(SIGNALS[1], table="t") == "'ok'"  # errors: no level of its own
    assert Level.BAD.rank > Level.WARN.rank > Level.OK.rank
