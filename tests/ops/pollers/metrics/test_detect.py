"""The detection trigger end to end: the aggregates the sandbox publishes (over HTTP) stored every
minute, a rise bringing the scope's busy functions to one-minute reads and the cool-down
releasing them, the budget shared with Logs Insights, and the status page saying why."""

from datetime import timedelta

import pytest

from ops.aws import cloudwatch, usage
from ops.models import ApiUsage, DetectTrigger, MetricsCadence, RegionStat
from ops.pollers.metrics import poll as metrics
from ops.services.usage import api_usage_flush
from tests.factories import AccountFactory, FunctionFactory, make_user
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, put_points, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def product_cadence(aws, settings):
    """The product's defaults (tests/conftest.py sets the old one-minute cadence for the rest)."""
    settings.METRICS_PERCENTILES = []
    settings.METRICS_BUSY_POLL_SECONDS = 1200
    settings.METRICS_IDLE_POLL_SECONDS = 1800
    settings.DETECT_COOLDOWN_SECONDS = 180
    settings.AWS_DAILY_BUDGET_USD = 20.0
    return aws


def _recording(monkeypatch):
    """Function names each run asked GetMetricData about (the scope's own call names none)."""
    asked: list[set[str]] = []
    real = cloudwatch.metric_data

    def recording(scope, queries, **kw):
        names = {q.dimensions[0][1] for q in queries if q.dimensions and q.dimensions[0][0] == "FunctionName"}
        if names:
            asked.append(names)
        return real(scope, queries, **kw)

    monkeypatch.setattr(cloudwatch, "metric_data", recording)
    return asked


def test_the_aggregates_the_sandbox_publishes_are_stored_for_every_minute(product_cadence, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="api")
    FunctionFactory(account=account, name="worker")
    end = now_minute()
    m1, m2, quiet = end - timedelta(minutes=4), end - timedelta(minutes=3), end - timedelta(minutes=2)
    for name, inv, err in (("api", 30, 3), ("worker", 12, 1)):
        fn = {"FunctionName": name}
        put_points("Invocations", fn, {m1: inv, m2: inv + 1})
        put_points("Errors", fn, {m1: err})
        put_points("Throttles", fn, {m2: 2})
        put_points("DeadLetterErrors", fn, {m2: 1})
        put_points("AsyncEventsDropped", fn, {m1: 4})
        put_points("ConcurrentExecutions", fn, {m1: inv / 3})
    at_clock(monkeypatch, metrics, end + timedelta(seconds=15))
    assert run("metrics", account, metrics.metrics_poll).ok

    rows = {r.ts: r for r in RegionStat.objects.filter(account=account, region=REGION)}
    cols = ("invocations", "errors", "throttles", "dead_letter_errors", "async_events_dropped", "concurrency_max")
    assert {m: tuple(getattr(rows[m], c) for c in cols) for m in (m1, m2, quiet)} == {
        m1: (42, 4, 0, 0, 8, 10.0),  # the sum over functions; concurrency the highest
        m2: (44, 0, 4, 2, 0, None),
        quiet: (0, 0, 0, 0, 0, None),  # read and quiet: 0, not missing
    }
    # every minute of the first window has its row (the baseline needs quiet minutes too)
    assert len(rows) == 60 and min(rows) == end - timedelta(minutes=60) and max(rows) == end - timedelta(minutes=1)
    # the overview's region headroom still shows the newest minute that has a concurrency value
    from ops.selectors.headroom import region_headroom
    from ops.selectors.timerange import TimeRange

    [h] = region_headroom(time_range=TimeRange.preset("1h", now=end))
    assert (h.claimed_latest, h.at, h.claimed_peak) == (10.0, m1, 10.0)


def test_a_rise_reads_the_busy_functions_every_minute_until_the_cool_down_ends(product_cadence, monkeypatch, client):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    for name in ("api", "worker", "sleepy"):
        FunctionFactory(account=account, name=name)
    end = now_minute()
    history = [end - timedelta(minutes=k) for k in range(1, 70)]
    for name in ("api", "worker"):
        put_points("Invocations", {"FunctionName": name}, {m: 20 for m in history})
        put_points("Errors", {"FunctionName": name}, {m: 1 for m in history[::7]})
    asked = _recording(monkeypatch)

    def poll(minutes: int):
        asked.clear()
        at_clock(monkeypatch, metrics, end + timedelta(minutes=minutes, seconds=10))
        outcome = run("metrics", account, metrics.metrics_poll)
        assert outcome.ok, outcome
        return set().union(*asked)

    assert poll(0) == {"api", "worker", "sleepy"}  # new: everything read once
    for k in (1, 2):  # steady: the aggregates only (busy every 20 min, idle every 30)
        put_points("Invocations", {"FunctionName": "api"}, {end + timedelta(minutes=k - 1): 20})
        assert poll(k) == set()
    assert not DetectTrigger.objects.exists()
    plan = MetricsCadence.objects.get(account=account)
    assert (plan.busy_s, plan.idle_s, plan.triggered_s, plan.held_back) == (1200, 1800, None, False)

    spike = end + timedelta(minutes=2)
    put_points("Invocations", {"FunctionName": "api"}, {spike: 40})
    put_points("Errors", {"FunctionName": "api"}, {spike: 35})
    assert poll(3) == {"api", "worker"}  # at once, in the run that saw the rise; sleepy was never invoked
    # 35 errors over a median of 0, and 35 of 60 invocations over the hour's 0.7 %
    assert set(DetectTrigger.objects.values_list("signal", flat=True)) == {"errors", "error_rate"}
    trig = DetectTrigger.objects.get(signal="errors")
    assert (trig.started_at, trig.last_breach_at, trig.released_at, trig.value) == (spike, spike, None, 35)
    plan = MetricsCadence.objects.get(account=account)
    assert (plan.triggered_s, plan.triggered_functions) == (60, 2)

    # the function page's data: the spike minute is stored now, not in 15 minutes
    from ops.models import MinuteStat

    assert MinuteStat.objects.get(series__function__name="api", series__kind="function", ts=spike).errors == 35

    # the status page and its drill-down say why
    client.force_login(make_user())
    page = client.get("/status/").content.decode()
    assert "detect-triggers" in page and "triggered" in page
    drill = client.get("/status/cadence/", {"reason": "triggered"}).content.decode()
    assert "triggered by us-east-1 error" in drill and ">api<" in drill and ">worker<" in drill and ">sleepy<" not in drill
    idle = client.get("/status/cadence/", {"reason": "idle"}).content.decode()
    assert ">sleepy<" in idle and "no invocation seen" in idle

    # every minute while the spike minute is among the 3 judged ones (to 5), then the cool-down
    # (180 s after the end of the last breaching minute: 6)
    assert poll(4) == {"api", "worker"}
    assert poll(5) == {"api", "worker"}
    assert DetectTrigger.objects.filter(released_at=None).count() == 2
    assert poll(6) == set()  # released: back to the usual cadence
    assert set(DetectTrigger.objects.values_list("released_at", flat=True)) == {end + timedelta(minutes=6)}
    assert MetricsCadence.objects.get(account=account).triggered_s is None
    assert DetectTrigger.objects.get(pk=trig.pk).last_breach_at == spike


def test_logs_insights_bytes_count_against_the_budget_metrics_polling_plans_in(product_cadence, monkeypatch, settings):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="api")
    end = now_minute()
    put_points("Invocations", {"FunctionName": "api"}, {end - timedelta(minutes=2): 5})
    settings.AWS_DAILY_BUDGET_USD = 0.2
    at_clock(monkeypatch, metrics, end)
    assert run("metrics", account, metrics.metrics_poll).ok
    roomy = MetricsCadence.objects.get(account=account)
    assert (roomy.share_usd, roomy.held_back) == (pytest.approx(0.2), False)

    # a Logs Insights query scanned 30 GB ($0.15): what it reports scanned is priced and counted
    usage.drain_all()
    usage.record_units(service="logs", operation="StartQuery", account_id=ACCOUNT_ID, region=REGION, units=30e9)
    api_usage_flush(now=end)
    logs = ApiUsage.objects.get(service="logs")
    assert (logs.bytes_scanned, logs.cost_usd) == (30e9, pytest.approx(0.15))

    at_clock(monkeypatch, metrics, end + timedelta(minutes=1))
    assert run("metrics", account, metrics.metrics_poll).ok
    tight = MetricsCadence.objects.get(account=account)
    # metrics get what the other kinds left: max($0.20 − $0.15, a tenth of the budget)
    assert tight.share_usd == pytest.approx(0.05)
    assert tight.held_back and tight.busy_s == 3600
    # the aggregates are read every minute whatever the budget (detection never stops): $0.115 a day
    assert tight.usd_per_day == pytest.approx(8 * 1440 * 1e-5 + 12 * 24 * 1e-5, abs=1e-4)

    from ops.pollers.metrics.budget import budget_share

    share = budget_share(account_id=account.pk, region=REGION, functions_here=1, now=end + timedelta(minutes=1))
    assert share.other_usd_per_day == pytest.approx(0.15) and not share.exhausted
    settings.AWS_DAILY_BUDGET_USD = 0.1  # today's spend passed the budget: no triggered detail
    assert budget_share(account_id=account.pk, region=REGION, functions_here=1, now=end + timedelta(minutes=1)).exhausted


def test_once_the_day_budget_is_spent_logs_are_read_without_logs_insights(product_cadence, monkeypatch, settings):
    from ops.models import MinuteStat
    from ops.pollers.logs import poll as logs
    from tests.ops.pollers.logs.test_poll import _put, _report

    settings.LOGS_SOURCE = "insights"
    settings.AWS_DAILY_BUDGET_USD = 0.01
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=2)
    _put("orders", [(m1 + timedelta(seconds=1), _report(1))])
    usage.drain_all()
    usage.record_units(service="logs", operation="StartQuery", account_id=ACCOUNT_ID, region=REGION, units=3e9)
    api_usage_flush(now=end)  # $0.015 of Insights today: over the $0.01 budget
    started = []
    real = logs.insights_read
    monkeypatch.setattr(logs, "insights_read", lambda *a, **kw: started.append(1) or real(*a, **kw))
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and any("budget is spent" in w for w in outcome.warnings)
    assert started == []
    assert MinuteStat.objects.get(series__function__name="orders", series__kind="function", ts=m1).reports == 1
