"""ops.selectors.function: what changed, per-version numbers, error groups, right-sizing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ops.costs import lambda_cost
from ops.rules.rightsizing import suggested_memory_mb
from ops.selectors.function import function_data, rightsizing
from ops.selectors.inventory import function_header
from ops.selectors.timerange import TimeRange
from tests.factories import AliasChangeFactory, ErrorGroupFactory, FunctionFactory, function_series, minutes

pytestmark = pytest.mark.django_db


def data_for(estate, fn=None, key="6h"):
    return function_data(function=function_header(pk=(fn or estate.bad).pk), time_range=TimeRange.preset(key, now=estate.now),
                         now=estate.now)


def test_what_changed_ties_the_error_onset_to_the_deploy(estate):
    fd = data_for(estate)
    wc = fd.what_changed
    assert wc.since == estate.now.replace(second=0, microsecond=0) - timedelta(minutes=30)
    assert not wc.throughout and wc.deploy == estate.deploy
    assert wc.minutes_after_deploy == 5
    assert wc.baseline_rate == 0.0
    assert [(v.version, round(v.totals.error_rate, 1)) for v in wc.versions] == [("43", 76.2), ("42", 0.0)]
    assert wc.top_group == estate.group and wc.top_group.in_range == 2400


def test_a_rollback_is_a_deploy_marker_too(estate):
    AliasChangeFactory(alias=estate.deploy.alias, at=estate.now - timedelta(minutes=2), from_version="43", to_version="42",
                       source="rollback")
    fd = data_for(estate)
    assert [d.source for d in fd.deploys] == ["observed", "rollback"]


def test_quiet_function_has_no_episode(estate):
    fd = data_for(estate, estate.ok)
    assert fd.what_changed.since is None and fd.totals.error_rate == 0.0


def test_error_groups_count_only_the_range(estate):
    old = ErrorGroupFactory(function=estate.bad, error_type="TimeoutError", first_seen=estate.now - timedelta(days=3),
                            last_seen=estate.now - timedelta(days=2))
    groups = data_for(estate).error_groups
    assert groups == [estate.group] and old not in groups
    assert old in data_for(estate, key="7d").error_groups


def test_rightsizing_suggests_a_smaller_size_and_prices_it_with_the_cost_model(estate):
    rs = data_for(estate).rightsizing
    assert (rs.used_max_mb, rs.configured_mb, rs.suggested_mb) == (310, 1024, 512)
    gb_s_7d = 5.0 * 360  # billed GB-s stored over the six hours of data
    monthly = gb_s_7d * 30 / 7
    now_usd = lambda_cost(region="us-east-1", architecture="x86_64", requests=0, gb_seconds=monthly)
    new_usd = lambda_cost(region="us-east-1", architecture="x86_64", requests=0, gb_seconds=monthly * 512 / 1024)
    assert rs.monthly_now_usd == pytest.approx(now_usd)
    assert rs.monthly_saving_usd == pytest.approx(now_usd - new_usd) and rs.worth_it


def test_rightsizing_without_report_lines_fits_or_add_memory(estate):
    from ops.rules.rightsizing import Verdict
    from tests.factories import ErrorGroupFactory, ErrorMinuteFactory

    assert data_for(estate, estate.throttled).rightsizing is None
    start = estate.now - timedelta(hours=1)
    # 200 of 256 MB (78 %): fits, and says what it costs
    roomy = FunctionFactory(account=estate.account, memory_mb=256)
    s = function_series(roomy)
    minutes(s, start=start, count=10, memory_used_max_mb=200, reports=1, billed_gb_s=1.0)
    rs = rightsizing(function=roomy, series=s, now=estate.now)
    assert rs.verdict is Verdict.FITS and rs.suggested_mb == 256 and not rs.worth_it
    assert rs.monthly_now_usd == pytest.approx(
        lambda_cost(region=roomy.region, architecture=roomy.architecture, requests=0, gb_seconds=10.0 * 30 / 7)
    )
    # 240 of 256 MB (94 %): one spike from being killed — add memory, priced
    tight = FunctionFactory(account=estate.account, memory_mb=256)
    s = function_series(tight)
    minutes(s, start=start, count=10, memory_used_max_mb=240, reports=1, billed_gb_s=1.0)
    rs = rightsizing(function=tight, series=s, now=estate.now)
    assert rs.verdict is Verdict.ADD and rs.suggested_mb == 384 and rs.oom_errors == 0
    assert rs.monthly_at_suggested_usd == pytest.approx(rs.monthly_now_usd * 384 / 256)
    assert rs.monthly_extra_usd == pytest.approx(rs.monthly_now_usd * 0.5) and rs.monthly_extra_usd > 0
    # 1024 of 1024 MB next to "signal: killed" errors: add memory, never "fits"
    killed = FunctionFactory(account=estate.account, memory_mb=1024)
    s = function_series(killed)
    minutes(s, start=start, count=10, memory_used_max_mb=lambda i: 1024 if i == 3 else 500, reports=1, billed_gb_s=1.0)
    group = ErrorGroupFactory(function=killed, error_type="Runtime.ExitError",
                              message="Runtime exited with error: signal: killed", first_seen=start, last_seen=estate.now)
    for i in range(7):
        ErrorMinuteFactory(group=group, ts=(start + timedelta(minutes=i)).replace(second=0, microsecond=0), count=7)
    rs = rightsizing(function=killed, series=s, now=estate.now)
    assert rs.verdict is Verdict.ADD and rs.oom_errors == 49 and rs.suggested_mb == 1536
    # out-of-memory errors even at a low peak (the killed invocations' REPORT shows the ceiling
    # only sometimes): still add memory
    s2 = function_series(FunctionFactory(account=estate.account, memory_mb=512))
    minutes(s2, start=start, count=10, memory_used_max_mb=200, reports=1, billed_gb_s=1.0)
    ErrorMinuteFactory(
        group=ErrorGroupFactory(function=s2.function, error_type="MemoryError", message="", first_seen=start,
                                last_seen=estate.now),
        ts=start.replace(second=0, microsecond=0), count=2,
    )
    rs = rightsizing(function=s2.function, series=s2, now=estate.now)
    assert rs.verdict is Verdict.ADD and rs.oom_errors == 2 and rs.suggested_mb == 768


@pytest.mark.parametrize("used, size", [(10, 128), (102, 128), (103, 256), (310, 512), (800, 1024)])
def test_suggested_memory_keeps_a_quarter_of_headroom(used, size):
    assert suggested_memory_mb(used) == size


def test_a_stray_error_just_before_a_bad_deploy_does_not_hide_it():
    from ops.models import AliasChange
    from ops.selectors.function import Totals, what_changed
    from ops.selectors.telemetry import SeriesData
    from tests.clock import hours_ago

    t0 = hours_ago(1)
    ts = [t0 + timedelta(minutes=i) for i in range(20)]
    # 0.5 % of 30 a minute: a single error at minute 14 is "bad"; the deploy at 15:47 takes it to 40 %
    errors = [0] * 14 + [1, 0, 12, 12, 13, 12]
    data = SeriesData(step_s=60, ts=ts, values={"invocations": [30] * 20, "errors": errors, "throttles": [0] * 20})
    deploy = AliasChange(at=ts[15] + timedelta(seconds=47), from_version="8", to_version="9")
    wc = what_changed(data=data, totals=Totals(invocations=600, errors=50), deploys=[deploy], versions=[], groups=[])
    assert wc.deploy is deploy and wc.since == ts[15] and wc.minutes_after_deploy == 0
    assert wc.baseline_rate == 100.0 * 1 / (15 * 30)
    # a deploy that did not make it worse is not the cause
    calm = AliasChange(at=ts[15] + timedelta(seconds=47), from_version="8", to_version="9")
    flat = SeriesData(step_s=60, ts=ts, values={"invocations": [30] * 20, "errors": [0] * 14 + [6] * 6, "throttles": [0] * 20})
    wc = what_changed(data=flat, totals=Totals(invocations=600, errors=36), deploys=[calm], versions=[], groups=[])
    assert wc.deploy is None and wc.since == ts[14]


def test_the_pages_now_state_is_the_overviews_whatever_the_range(estate):
    from ops.selectors.fleet import fleet_page
    from ops.selectors.inventory import FunctionFilters

    fp = fleet_page(time_range=TimeRange.preset("24h", now=estate.now), filters=FunctionFilters())
    fire = {r.id: r for r in fp.fire}
    for fn in (estate.bad, estate.ok, estate.throttled):
        for key in ("1h", "7d"):
            now = data_for(estate, fn, key=key).now
            assert now.on_fire is (fn.pk in fire), (fn.name, key)
            if now.on_fire:
                row = fire[fn.pk]
                assert now.reasons == row.reasons  # DLQ growth included, judged on the same window
                assert (now.since, now.chronic, now.baseline_rate, now.deploy) == (
                    row.since, row.chronic, row.baseline_rate, row.deploy)
    bad = data_for(estate, key="7d")
    # "what changed" names the now episode's onset to the minute, even on a 7-day range's hourly buckets
    assert bad.what_changed.since == bad.now.since and bad.what_changed.deploy == estate.deploy
