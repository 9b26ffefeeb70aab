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


# ---------------------------------------------------------------------------------------------
# The now state: the window's record from minute rows, in SQL (the fleet's) and in Python (the
# function page's and the API's), then judged — the same bits and the same verdict.

NOW_POOLS = {
    "invocations": [0, 1, 3, 4, 19, 20, 25, 100],
    "errors": [0, 0, 1, 4, 5, 6, 20],
    "throttles": [0, 0, 0, 1, 2],
    "async_events_dropped": [0, 0, 1],
    "dead_letter_errors": [0, 1],
    "reports": [0, 3, 100],
    "cold_starts": [0, 1, 30],
    # 3 s and 30 s timeouts: 80 % and 95 % exactly, and one float step either side
    "duration_p99": [None, 10.0, 2400.0, math.nextafter(2400.0, 0), 2850.0, math.nextafter(2850.0, 1e9), 24000.0,
                     28500.0, math.nextafter(24000.0, 0)],
    "iterator_age_max": [None, 0.0, 60_000.0, math.nextafter(60_000.0, 0), 61_000.0],
    "concurrency_max": [None, 1.0, 9.0, math.nextafter(9.0, 0), 900.0, 1000.0],
}


def _now_functions(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    fns, minutes = [], []
    for fid in range(n):
        fns.append({
            "id": fid,
            "timeout_s": rng.choice([3, 30]),
            "concurrency_limit": rng.choice([10, 1000]),
            "reserved_concurrency": rng.choice([None, 10]),
            "dlq_depth": rng.choice([None, 0.0, 12.0]),
            "dlq_growth": rng.choice([None, 0.0, 1.0]),
        })
        for m in range(rng.choice([0, 1, 3, 5, 5, 5])):  # a minute without a row is quiet
            row = {c: rng.choice(pool) for c, pool in NOW_POOLS.items()}
            row["errors"] = min(row["errors"], row["invocations"]) if rng.random() < 0.8 else row["errors"]
            minutes.append({"fid": fid, "m": m} | row)
    return fns, minutes


def test_the_now_window_is_judged_alike_in_sql_and_python():
    from ops.rules.now import COLUMNS as NOW_COLUMNS
    from ops.rules.now import now_aggregates_sql, now_columns_sql, now_record

    fns, minutes = _now_functions(2500, seed=11)
    levels = ", ".join(f"{level_sql(s, table='nr')} AS level_{s.key}" for s in SIGNALS)
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMPORARY TABLE now_fns (id integer PRIMARY KEY, timeout_s integer, concurrency_limit integer,"
            " reserved_concurrency integer, dlq_depth double precision, dlq_growth double precision)"
        )
        cur.executemany(
            "INSERT INTO now_fns VALUES (%(id)s, %(timeout_s)s, %(concurrency_limit)s, %(reserved_concurrency)s,"
            " %(dlq_depth)s, %(dlq_growth)s)",
            fns,
        )
        # the minute table's own column types: bigint counts, float8 gauges
        cols = ", ".join(f"{c} {'double precision' if c in ('duration_p99', 'iterator_age_max', 'concurrency_max') else 'bigint'}"
                         for c in NOW_POOLS)
        cur.execute(f"CREATE TEMPORARY TABLE now_minutes (fid integer, m integer, {cols})")
        cur.executemany(
            f"INSERT INTO now_minutes VALUES (%(fid)s, %(m)s, {', '.join(f'%({c})s' for c in NOW_POOLS)})", minutes
        )
        cur.execute(f"""
WITH a AS (
  SELECT fn.id, x.* FROM now_fns fn
  CROSS JOIN LATERAL (SELECT {now_aggregates_sql(table="mm")} FROM now_minutes mm WHERE mm.fid = fn.id) x
),
nr AS (
  SELECT fn.id, {now_columns_sql(agg="a", timeout_s="fn.timeout_s", concurrency_limit="fn.concurrency_limit")},
         fn.dlq_depth, fn.dlq_growth
  FROM now_fns fn JOIN a ON a.id = fn.id
)
SELECT nr.*, to_jsonb(nr)::text AS js, {levels}, {on_fire_sql(table="nr")} AS on_fire FROM nr ORDER BY id""")
        names = [c.name for c in cur.description]
        judged = [dict(zip(names, r)) for r in cur.fetchall()]
        cur.execute("DROP TABLE now_fns; DROP TABLE now_minutes")

    import json

    by_fn: dict[int, list[dict]] = {}
    for m in minutes:
        by_fn.setdefault(m["fid"], []).append({c: m[c] for c in NOW_COLUMNS})
    fires = 0
    for fn, db_row in zip(fns, judged):
        record = now_record(
            by_fn.get(fn["id"], []),
            timeout_s=fn["timeout_s"],
            concurrency_limit=fn["concurrency_limit"],
            reserved_concurrency=fn["reserved_concurrency"],
            dlq_depth=fn["dlq_depth"],
            dlq_growth=fn["dlq_growth"],
        )
        # the same numbers, bit for bit, straight and through the fleet's jsonb
        through_json = json.loads(db_row["js"])
        for c in ("invocations", "errors", "error_rate", "throttles", "p99_pct", "iterator_age_max",
                  "concurrency_pct", "async_events_dropped", "dlq_growth", "cold_pct"):
            assert getattr(record, c) == db_row[c] == through_json[c], (c, record, db_row)
        for s in SIGNALS:
            assert db_row[f"level_{s.key}"] == signal_level(s, record).value, (s.key, record)
        assert db_row["on_fire"] is on_fire(record), record
        fires += db_row["on_fire"]
    assert 0 < fires < len(fns)
    # the edges really were exercised: exactly 5 % with 5 errors, exactly 80 % of the timeout
    records = [json.loads(r["js"]) for r in judged]
    assert any(r["error_rate"] == 5.0 and r["errors"] >= 5 for r in records)
    assert any(r["p99_pct"] == 80.0 for r in records) and any(r["concurrency_pct"] == 90.0 for r in records)
