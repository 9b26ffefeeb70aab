"""ops.selectors.fleet against the known estate: numbers, on-fire rules, sorting, filters, headroom."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ops.costs import lambda_cost
from ops.selectors.fleet import fleet_page
from ops.selectors.headroom import region_headroom
from ops.selectors.inventory import FunctionFilters
from ops.rules.episode import onset
from ops.selectors.telemetry import SeriesData
from ops.selectors.timerange import TimeRange

pytestmark = pytest.mark.django_db


def page(estate, **kw):
    rng = TimeRange.preset("6h", now=estate.now)
    return fleet_page(time_range=rng, filters=kw.pop("filters", FunctionFilters()), **kw)


def test_fleet_rows_carry_the_range_totals(estate):
    fp = page(estate, sort="name")
    assert fp.total == 3
    bad = next(r for r in fp.rows if r.name == "payments-api")
    assert bad.invocations == 359 * 100  # the 6 h range starts one minute after the first row
    assert bad.errors == 30 * 80
    assert bad.error_rate == pytest.approx(100 * bad.errors / bad.invocations)
    assert bad.duration_p99 == 840.0
    assert bad.p99_pct == pytest.approx(840 / 6000 * 100)
    assert bad.dlq_depth == 380
    assert bad.cost_usd == pytest.approx(
        lambda_cost(region="us-east-1", architecture="x86_64", requests=bad.invocations, gb_seconds=5.0 * bad.invocations / 100)
    )
    thr = next(r for r in fp.rows if r.name == "ingest-stream")
    assert thr.concurrency_limit == 50 and thr.concurrency_pct == 100.0
    ok = next(r for r in fp.rows if r.name == "orders-worker")
    assert ok.error_rate == 0 and not ok.on_fire and ok.concurrency_limit == 1000


def test_on_fire_lists_reasons_onset_and_the_deploy_before(estate):
    fp = page(estate)
    names = [r.name for r in fp.fire]
    assert names == ["payments-api", "ingest-stream"]
    bad = fp.fire[0]
    assert bad.level == "bad"
    # the reasons are the now window's (the last 5 known minutes), not the 6 h range's 6.7 %
    assert ("bad", "error rate 80.0 % (400 errors)") in bad.reasons
    assert any("DLQ depth 380" in t for _, t in bad.reasons)
    start = estate.now.replace(second=0, microsecond=0) - timedelta(hours=6)
    assert bad.since == start + timedelta(minutes=330) and not bad.chronic
    assert bad.deploy == estate.deploy
    assert bad.minutes_after_deploy == 5
    assert bad.baseline_rate == 0.0
    thr = fp.fire[1]
    assert any("throttles" in t for _, t in thr.reasons)
    # the throttles' own episode (from minute 301), not another signal's
    assert thr.since == start + timedelta(minutes=301) and not thr.chronic and thr.baseline_rate is None
    assert fp.as_of == start + timedelta(minutes=360)


def test_sort_and_paging_happen_in_sql(estate):
    by_rate = page(estate, sort="-error_rate")
    assert by_rate.rows[0].name == "payments-api"
    by_name = page(estate, sort="name", per_page=2)
    assert [r.name for r in by_name.rows] == ["ingest-stream", "orders-worker"] and by_name.pages == 2
    second = page(estate, sort="name", per_page=2, page=2)
    assert [r.name for r in second.rows] == ["payments-api"]
    # fire rows come along whatever the page
    assert [r.name for r in second.fire] == ["payments-api", "ingest-stream"]
    assert page(estate, sort="-invocations").rows[0].name == "ingest-stream"
    assert page(estate, sort="bogus").sort == "-error_rate"
    beyond = page(estate, sort="name", per_page=2, page=9)
    assert beyond.page == 2 and [r.name for r in beyond.rows] == ["payments-api"]


def test_filters(estate):
    assert [r.name for r in page(estate, filters=FunctionFilters(q="pay")).rows] == ["payments-api"]
    assert [r.name for r in page(estate, filters=FunctionFilters(tag="team=pay")).rows] == ["payments-api"]
    assert page(estate, filters=FunctionFilters(region="eu-west-1")).total == 0
    assert page(estate, filters=FunctionFilters(q="100%_")).total == 0


def test_region_headroom(estate, settings):
    rng = TimeRange.preset("6h", now=estate.now)
    [h] = region_headroom(time_range=rng)
    assert (h.account, h.region, h.claimed_peak, h.limit) == ("prod", "us-east-1", 612, 1000)
    settings.ACCOUNT_CONCURRENCY_LIMIT = 3000
    assert region_headroom(time_range=rng)[0].limit == 3000


def test_onset_finds_the_latest_episode_and_its_baseline():
    from tests.clock import hours_ago

    t0 = hours_ago(days=1)
    ts = [t0 + timedelta(minutes=i) for i in range(10)]
    errors = [1, 0, 0, 0, 0, 9, 0, 9, 9, 9]  # an old blip, then an episode with one quiet minute inside
    data = SeriesData(step_s=60, ts=ts, values={"invocations": [100] * 10, "errors": errors, "throttles": [0] * 10})
    since, baseline = onset(data)
    assert since == ts[5] and baseline == pytest.approx(100 * 1 / 500)
    quiet = SeriesData(step_s=60, ts=ts, values={"invocations": [100] * 10, "errors": [0] * 10, "throttles": [0] * 10})
    assert onset(quiet) == (None, None)


def test_a_dlq_is_on_fire_when_it_fills_up_not_for_old_messages(estate):
    from ops.models import FunctionQueue, QueueStat
    from tests.factories import QueueFactory, QueueStatFactory

    rng = TimeRange.preset("6h", now=estate.now)
    # payments-api's DLQ already held 380 messages before the range: old, not filling up.
    dlq = FunctionQueue.objects.get(function=estate.bad, role="lambda_dlq").queue
    QueueStatFactory(queue=dlq, ts=rng.start - timedelta(minutes=10), visible_max=380)
    # ingest-stream's DLQ grows from 5 to 45 within the range.
    grows = QueueFactory(account=estate.account, name="ingest-dlq")
    FunctionQueue.objects.create(function=estate.throttled, queue=grows, role="source_dlq")
    QueueStatFactory(queue=grows, ts=rng.start - timedelta(minutes=1), visible_max=5)
    QueueStatFactory(queue=grows, ts=estate.now.replace(second=0, microsecond=0) - timedelta(minutes=3), visible_max=45)
    assert QueueStat.objects.count() == 4  # the estate's own point plus these three

    fp = page(estate, sort="name")
    rows = {r.name: r for r in fp.rows}
    assert (rows["payments-api"].dlq_depth, rows["payments-api"].dlq_growth) == (380, 0)
    assert (rows["ingest-stream"].dlq_depth, rows["ingest-stream"].dlq_growth) == (45, 40)
    fire = {r.name: [text for _, text in r.reasons] for r in fp.fire}
    assert "DLQ depth 45 messages (+40 new)" in fire["ingest-stream"]
    assert not any(text.startswith("DLQ") for text in fire["payments-api"])  # on fire for its errors only


def test_a_deploy_seen_late_counts_when_its_version_was_published_by_the_onset(estate):
    """An alias change the inventory poll saw minutes after the onset is the deploy when its
    version was published within the onset's minute or the next (calls stamped by their start)."""
    from ops.models import AliasChange, FunctionVersion
    from tests.factories import AliasChangeFactory

    AliasChange.objects.filter(pk=estate.deploy.pk).delete()
    onset = estate.now.replace(second=0, microsecond=0) - timedelta(minutes=30)
    FunctionVersion.objects.create(function=estate.bad, version="43", last_modified=onset + timedelta(seconds=65))
    AliasChangeFactory(alias=estate.deploy.alias, at=onset + timedelta(minutes=4, seconds=30), from_version="42",
                       to_version="43")
    bad = next(r for r in page(estate).fire if r.name == "payments-api")
    assert bad.since == onset and bad.deploy.to_version == "43" and bad.minutes_after_deploy == 0
    # a change seen later than an inventory poll interval after the onset is not taken for it
    AliasChange.objects.update(at=onset + timedelta(minutes=9))
    assert next(r for r in page(estate).fire if r.name == "payments-api").deploy is None
