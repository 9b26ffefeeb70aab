"""Logs Insights against the sandbox over HTTP: REPORT stats by minute, groups that do not exist yet,
busy scopes past the 10,000-row cap, SnapStart restores, plain-text timeouts and out-of-memory."""

from datetime import timedelta

import boto3
import pytest

from ops.aws import logs as aws_logs
from ops.models import ErrorGroup, MinuteStat
from ops.pollers.logs import poll as logs
from ops.rules.cost import gb_seconds
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.logs.test_poll import STREAM, _put, _report, _rid
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, FAST, REGION, at_clock, now_minute, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_filter_fallback(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("read with FilterLogEvents although Logs Insights answered")

    monkeypatch.setattr(aws_logs, "filter_events", refuse)


def _stats(name):
    return list(
        MinuteStat.objects.filter(series__function__name=name, series__kind="function")
        .order_by("ts")
        .values_list("ts", "reports", "cold_starts", "init_duration_sum", "billed_duration_sum", "log_errors")
    )


def test_a_query_over_groups_where_one_does_not_exist_yet_stays_on_insights(aws, monkeypatch, settings, no_filter_fallback):
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    FunctionFactory(account=account, name="never-ran")  # no log group: AWS would fail the whole query
    end = now_minute()
    m1 = end - timedelta(minutes=2)
    _put("orders", [(m1 + timedelta(seconds=1), _report(1, init=12.5)), (m1 + timedelta(seconds=2), "[ERROR] KeyError: 'a'")])
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and not any("Insights" in w for w in outcome.warnings), outcome
    assert [r[1:3] + (r[5],) for r in _stats("orders")] == [(1, 1, 1)]
    assert _stats("never-ran") == []
    cursor = outcome and logs.PollStatus.objects.get(source="logs").cursor["groups"]
    assert cursor["/aws/lambda/never-ran"] == cursor["/aws/lambda/orders"] == end.isoformat()


def test_a_scope_with_more_than_10000_report_lines_in_one_window_counts_them_all(aws, monkeypatch, settings, no_filter_fallback):
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="busy", memory_mb=256)
    end = now_minute()
    first = end - timedelta(minutes=10)
    per_minute = 1_250  # 12,500 lines in 10 minutes
    c = boto3.client("logs", region_name=REGION, config=FAST)
    c.create_log_group(logGroupName="/aws/lambda/busy")
    c.create_log_stream(logGroupName="/aws/lambda/busy", logStreamName=STREAM)
    events = []
    for m in range(10):
        base = int((first + timedelta(minutes=m)).timestamp() * 1000)
        for i in range(per_minute):
            n = m * per_minute + i
            events.append({"timestamp": base + i * 40, "message": _report(n, billed=10, mem=256, init=5.0 if i == 0 else None)})
    for i in range(0, len(events), 4_000):  # PutLogEvents takes at most 1 MB per call
        c.put_log_events(logGroupName="/aws/lambda/busy", logStreamName=STREAM, logEvents=events[i : i + 4_000])
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and not any("10,000" in w or "Insights" in w for w in outcome.warnings), outcome
    rows = _stats("busy")
    assert len(rows) == 10 and {r[1] for r in rows} == {per_minute} and {r[2] for r in rows} == {1}
    assert sum(r[1] for r in rows) == 12_500
    assert sum(r[4] for r in rows) == 12_500 * 10


SNAP = f"REPORT RequestId: {_rid(1)}\tDuration: 20.00 ms\tBilled Duration: 21 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\tRestore Duration: 250.50 ms\tBilled Restore Duration: 120 ms\t"


@pytest.mark.parametrize("source", ["insights", "filter"])
def test_snapstart_timeout_and_oom_report_lines(aws, monkeypatch, settings, source):
    settings.LOGS_SOURCE = source
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", memory_mb=512)
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    s = timedelta(seconds=1)
    _put(
        "orders",
        [
            (m1, SNAP),
            # plain-text timeout: the runtime's line and the REPORT's status are one error
            (m1 + s, f"{m1.isoformat()} {_rid(2)} Task timed out after 3.00 seconds"),
            (m1 + 2 * s, _report(2, billed=3000, mem=512) + "Status: timeout"),
            # out of memory: "Runtime exited" and the REPORT's Error Type are one, the specific type wins
            (m1 + 3 * s, f"RequestId: {_rid(3)} Error: Runtime exited with error: signal: killed\nRuntime.ExitError"),
            (m1 + 4 * s, _report(3, billed=800, mem=512, used=512) + "Status: error\tError Type: Runtime.OutOfMemory"),
            # a timeout the REPORT alone states
            (m1 + 5 * s, _report(4, billed=3000, mem=512) + "Status: timeout"),
        ],
    )
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and not any("Insights" in w for w in outcome.warnings), outcome
    row = MinuteStat.objects.get(series__function__name="orders", ts=m1)
    assert (row.reports, row.cold_starts, row.init_duration_sum, row.init_duration_max) == (4, 1, 250.5, 250.5)
    billed = 21 + 120 + 3000 + 800 + 3000  # the restore's billed time counts
    assert row.billed_duration_sum == billed
    assert row.billed_gb_s == pytest.approx(gb_seconds(memory_mb=512, billed_ms=billed))
    assert row.log_errors == 3
    groups = {g.error_type: g.count for g in ErrorGroup.objects.all()}
    assert groups == {"Task timed out": 2, "Runtime.OutOfMemory": 1}


def test_an_error_storm_in_one_group_leaves_the_others_on_insights(aws, monkeypatch, settings):
    """More than 10,000 error lines in one group: the batch is asked again in halves; only the
    storm's group is read with FilterLogEvents, and every line is counted."""
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    for name in ("storm", "calm", "quiet"):
        FunctionFactory(account=account, name=name)
    end = now_minute()
    first = end - timedelta(minutes=5)
    c = boto3.client("logs", region_name=REGION, config=FAST)
    c.create_log_group(logGroupName="/aws/lambda/storm")
    c.create_log_stream(logGroupName="/aws/lambda/storm", logStreamName=STREAM)
    base = int(first.timestamp() * 1000)
    storm = [{"timestamp": base + i * 20, "message": f"[ERROR] ValueError: bad {i}"} for i in range(10_500)]
    for i in range(0, len(storm), 5_000):
        c.put_log_events(logGroupName="/aws/lambda/storm", logStreamName=STREAM, logEvents=storm[i : i + 5_000])
    _put("calm", [(first + timedelta(seconds=1), _report(1)), (first + timedelta(seconds=2), "[ERROR] KeyError: 'a'")])
    _put("quiet", [(first + timedelta(seconds=3), _report(2))])
    filtered = []
    real = aws_logs.filter_events

    def recording(scope, group, **kw):
        filtered.append(group)
        return real(scope, group, **kw)

    monkeypatch.setattr(aws_logs, "filter_events", recording)
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    assert filtered == ["/aws/lambda/storm"]
    assert any("10,000-row limit for /aws/lambda/storm" in w for w in outcome.warnings)
    assert sum(r[5] for r in _stats("storm")) == 10_500
    assert [r[1] + r[5] for r in _stats("calm")] == [2] and [r[1] for r in _stats("quiet")] == [1]
