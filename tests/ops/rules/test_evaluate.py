"""The declared rules give the reasons and verdicts the two hand-written copies gave before them.

``_before`` is the Python copy as it stood (``ops/selectors/signals.py``), and ``_before_on_fire``
the fleet query's SQL copy; both are kept here only as the behaviour to match.
"""

from __future__ import annotations

import random

from ops.rules.evaluate import Record, on_fire, page_findings
from ops.rules.signals import ERROR_RATE, Level
from tests.ops.rules.test_sql_matches_python import _rows


def _before(r: Record) -> list[tuple[str, str]]:
    out = []
    if r.error_rate is not None and r.error_rate >= 5.0 and r.errors >= 5:
        out.append(("bad", f"error rate {r.error_rate:.1f} % ({int(r.errors):,} errors)"))
    elif r.error_rate is not None and r.error_rate >= 1.0 and r.errors > 0:
        out.append(("warn", f"error rate {r.error_rate:.1f} %"))
    if r.throttles >= 1:
        limit = f" (reserved {r.reserved_concurrency})" if r.reserved_concurrency is not None else ""
        out.append(("bad", f"throttles {int(r.throttles):,}{limit}"))
    if r.p99_pct is not None and r.p99_pct >= 80.0:
        out.append(("bad" if r.p99_pct >= 95 else "warn", f"p99 {r.p99_pct:.0f} % of {r.timeout_s} s timeout"))
    if r.dlq_growth and r.dlq_growth > 0:
        out.append(("bad", f"DLQ depth {int(r.dlq_depth):,} messages (+{int(r.dlq_growth):,} new)"))
    if r.async_events_dropped:
        out.append(("bad", f"async events dropped {int(r.async_events_dropped):,}"))
    if r.iterator_age_max is not None and r.iterator_age_max >= 60_000.0:
        out.append(("warn", f"iterator age {r.iterator_age_max / 60000:.0f} min"))
    if r.concurrency_pct is not None and r.concurrency_pct >= 90.0:
        out.append(("warn", f"concurrency {r.concurrency_max:.0f} of {r.concurrency_limit}"))
    return out


def _before_on_fire(r: Record) -> bool:
    return bool(
        (r.error_rate is not None and r.error_rate >= 5.0 and r.errors >= 5)
        or r.throttles >= 1
        or (r.p99_pct is not None and r.p99_pct >= 80.0)
        or (r.dlq_growth is not None and r.dlq_growth > 0)
        or r.async_events_dropped > 0
        or (r.iterator_age_max is not None and r.iterator_age_max >= 60_000.0)
        or (r.concurrency_pct is not None and r.concurrency_pct >= 90.0)
    )


def _fleet_like(row: dict, rng: random.Random) -> Record:
    """A row as the fleet query returns it: counts are whole (sums of bigint columns) and
    coalesced to 0, a depth wherever a growth is, a peak wherever a concurrency ratio is."""
    for c in ("invocations", "errors", "throttles", "async_events_dropped", "dlq_growth"):
        row[c] = float(round(row[c] or 0)) if c != "dlq_growth" or row[c] is not None else None
    if row["dlq_growth"] is not None:
        row["dlq_depth"] = row["dlq_growth"] + rng.choice([0.0, 12.0])
    if row["concurrency_pct"] is not None:
        row["concurrency_max"] = row["concurrency_pct"] * row["concurrency_limit"] / 100.0
    return Record(**row)


def test_reasons_and_verdicts_match_the_rules_they_replace():
    rng = random.Random(80)
    records = [_fleet_like(row, rng) for row in _rows(4000, seed=80)]
    listed = 0
    for rec in records:
        now = [(f.level.value, f.text) for f in page_findings(rec)]
        assert now == _before(rec), rec
        assert on_fire(rec) is _before_on_fire(rec), rec
        listed += bool(now)
    assert listed > len(records) // 2


def test_reason_wording_and_levels():
    rec = Record(
        invocations=36_000.0, errors=2_400.0, error_rate=6.666, throttles=3.0, reserved_concurrency=50, p99_pct=96.0,
        timeout_s=6, dlq_depth=380.0, dlq_growth=40.0, async_events_dropped=1_234.0, iterator_age_max=150_000.0,
        concurrency_max=45.0, concurrency_limit=50, concurrency_pct=90.0,
    )  # fmt: skip
    assert [(f.level, f.text) for f in page_findings(rec)] == [
        (Level.BAD, "error rate 6.7 % (2,400 errors)"),
        (Level.BAD, "throttles 3 (reserved 50)"),
        (Level.BAD, "p99 96 % of 6 s timeout"),
        (Level.BAD, "DLQ depth 380 messages (+40 new)"),
        (Level.BAD, "async events dropped 1,234"),
        (Level.WARN, "iterator age 2 min"),
        (Level.WARN, "concurrency 45 of 50"),
    ]
    warn_only = Record(error_rate=2.0, errors=20.0, invocations=1000.0, throttles=0.0)
    [finding] = page_findings(warn_only)
    assert (finding.signal, finding.level, finding.text) == (ERROR_RATE, Level.WARN, "error rate 2.0 %")
    assert not finding.fires
    assert not on_fire(warn_only)
    # a partial row still reads rather than failing
    [odd] = page_findings(Record(concurrency_pct=95.0, concurrency_limit=10))
    assert odd.text == "concurrency ? of 10"


def test_table_cells_are_shaded_by_the_same_levels():
    from dashboard.templatetags.ops_format import state

    cells = [
        (6.0, "error_rate", "state-bad"), (5.0, "error_rate", "state-bad"), (4.99, "error_rate", "state-warn"),
        (1.0, "error_rate", "state-warn"), (0.99, "error_rate", ""), (None, "error_rate", ""),
        (95.0, "p99_of_timeout", "state-bad"), (80.0, "p99_of_timeout", "state-warn"), (79.9, "p99_of_timeout", ""),
        (90.0, "concurrency", "state-warn"), (100.0, "concurrency", "state-warn"), (89.9, "concurrency", ""),
        ("", "concurrency", ""),
    ]  # fmt: skip
    assert [state(v, key) for v, key, _ in cells] == [want for *_, want in cells]
