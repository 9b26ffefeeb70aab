from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ops.aws import logs as aws_logs
from ops.models import ErrorGroup, ErrorMinute, LogLine, MinuteStat, Quarantine
from ops.pollers.logs import poll as logs
from ops.pollers.metrics import poll as metrics
from tests.clock import stream_day, this_hour
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, FAST, REGION, at_clock, now_minute, put_points, run

pytestmark = pytest.mark.django_db(transaction=True)
STREAM = f"{stream_day(this_hour())}/[$LATEST]0123456789abcdef"


def _rid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _report(n, *, billed=100, mem=512, used=80, init=None):
    line = f"REPORT RequestId: {_rid(n)}\tDuration: {billed - 0.5} ms\tBilled Duration: {billed} ms\tMemory Size: {mem} MB\tMax Memory Used: {used} MB\t"
    return line + (f"Init Duration: {init} ms\t" if init is not None else "")


def _put(name, events):
    c = boto3.client("logs", region_name=REGION, config=FAST)
    group = f"/aws/lambda/{name}"
    try:
        c.create_log_group(logGroupName=group)
        c.create_log_stream(logGroupName=group, logStreamName=STREAM)
    except c.exceptions.ResourceAlreadyExistsException:
        pass
    ordered = sorted(events, key=lambda e: e[0])
    c.put_log_events(
        logGroupName=group,
        logStreamName=STREAM,
        logEvents=[{"timestamp": int(ts.timestamp() * 1000), "message": msg} for ts, msg in ordered],
    )


@pytest.fixture
def filter_logs(aws, settings):
    settings.LOGS_SOURCE = "filter"
    settings.METRICS_PERCENTILES = []
    return aws


def _row(name, ts):
    return MinuteStat.objects.get(series__function__name=name, series__kind="function", ts=ts)


def _state():
    return (
        sorted(MinuteStat.objects.values_list("ts", "reports", "cold_starts", "billed_duration_sum", "billed_gb_s", "log_errors")),
        sorted(ErrorGroup.objects.values_list("error_type", "message", "count")),
        sorted(ErrorMinute.objects.values_list("ts", "count")),
        LogLine.objects.count(),
        sorted(Quarantine.objects.values_list("reason", "count")),
    )


def test_report_and_error_lines_are_aggregated_per_minute_and_a_rerun_changes_nothing(filter_logs, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", memory_mb=512)
    end = now_minute()
    m1, m2 = end - timedelta(minutes=4), end - timedelta(minutes=3)
    s = timedelta(seconds=1)
    _put(
        "orders",
        [
            (m1, f"START RequestId: {_rid(1)} Version: $LATEST"),
            (m1 + s, _report(1, billed=1240, used=90, init=240.12)),
            (m1 + 2 * s, _report(2, billed=100, used=120)),
            (m1 + 3 * s, f"[ERROR]\t{m1.isoformat()}\t{_rid(2)}\tOrderNotFoundError: order 1234 not found"),
            (m2, f"[ERROR]\t{m2.isoformat()}\t{_rid(3)}\tOrderNotFoundError: order 98 not found"),
            (m2 + s, f"{m2.isoformat()} {_rid(3)} Task timed out after 3.00 seconds"),
            (m2 + 2 * s, _report(3, billed=3000, used=100)),
            (m2 + 3 * s, '{"time":"x","type":"platform.report","record":{"requestId":'),
            (m2 + 4 * s, f"REPORT RequestId: {_rid(4)}\tBilled Duration: 13 ms\t"),
        ],
    )
    at_clock(monkeypatch, logs, end + timedelta(seconds=5))
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    r1, r2 = _row("orders", m1), _row("orders", m2)
    assert (r1.reports, r1.cold_starts, r1.init_duration_sum, r1.init_duration_max) == (2, 1, 240.12, 240.12)
    assert (r1.billed_duration_sum, r1.memory_used_max_mb, r1.memory_size_mb, r1.log_errors) == (1340, 120, 512, 1)
    assert r1.billed_gb_s == pytest.approx(1.340 * 0.5)
    assert (r2.reports, r2.log_errors, r2.billed_duration_sum) == (1, 2, 3000)
    assert r1.invocations == 0 and r1.duration_avg is None  # the metrics columns are not this poller's

    groups = {g.error_type: g for g in ErrorGroup.objects.all()}
    assert groups["OrderNotFoundError"].count == 2 and groups["OrderNotFoundError"].message == "order <n> not found"
    assert groups["Task timed out"].count == 1
    assert groups["OrderNotFoundError"].first_seen < groups["OrderNotFoundError"].last_seen
    assert {s["request_id"] for s in groups["OrderNotFoundError"].samples} == {_rid(2), _rid(3)}
    assert LogLine.objects.count() == 3 and LogLine.objects.filter(request_id=_rid(3)).count() == 2
    q = Quarantine.objects.get(source="logs", reason="unreadable")
    assert q.count == 2 and q.account == account and q.region == REGION
    assert {s["detail"] for s in q.samples} == {"log line starts like JSON but is not valid JSON", "REPORT line without Duration"}
    assert any("quarantined (unreadable)" in w for w in outcome.warnings)

    before = _state()
    at_clock(monkeypatch, logs, end + timedelta(minutes=1, seconds=5))
    assert run("logs", account, logs.logs_poll).ok
    assert _state() == before


def test_late_log_lines_are_counted_on_the_next_poll(filter_logs, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=5)
    _put("orders", [(m1 + timedelta(seconds=1), _report(1)), (m1 + timedelta(seconds=2), "[ERROR] ValueError: bad 1")])
    at_clock(monkeypatch, logs, end)
    assert run("logs", account, logs.logs_poll).ok
    _put("orders", [(m1 + timedelta(seconds=30), _report(2)), (m1 + timedelta(seconds=31), "[ERROR] ValueError: bad 2")])
    at_clock(monkeypatch, logs, end + timedelta(minutes=1))
    assert run("logs", account, logs.logs_poll).ok
    assert _row("orders", m1).reports == 2
    assert ErrorGroup.objects.get().count == 2 and ErrorMinute.objects.get().count == 2


def test_metrics_and_logs_pollers_do_not_clobber_each_other(filter_logs, monkeypatch, settings):
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    put_points("Invocations", {"FunctionName": "orders"}, {m1: 2})
    put_points("Duration", {"FunctionName": "orders"}, {m1: 99.5})
    _put("orders", [(m1 + timedelta(seconds=1), _report(1)), (m1 + timedelta(seconds=2), _report(2, init=100.0))])
    at_clock(monkeypatch, logs, end)
    at_clock(monkeypatch, metrics, end)
    assert run("logs", account, logs.logs_poll).ok
    assert run("metrics", account, metrics.metrics_poll).ok
    at_clock(monkeypatch, logs, end + timedelta(minutes=1))
    assert run("logs", account, logs.logs_poll).ok
    row = _row("orders", m1)
    assert (row.invocations, row.duration_avg, row.reports, row.cold_starts) == (2, 99.5, 2, 1)


def test_a_function_without_a_log_group_is_fine(filter_logs, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="never-ran")
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and not MinuteStat.objects.exists()


# --- Logs Insights (the sandbox answers filter/parse/stats; AWS-only shapes are tested with Stubber)


def _stub(monkeypatch):
    c = boto3.client("logs", region_name=REGION, config=FAST)
    stub = Stubber(c)
    monkeypatch.setattr(aws_logs, "client", lambda service, scope: c)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return stub


def _row_fields(ts, message, group="/aws/lambda/orders"):
    return [
        {"field": "@timestamp", "value": ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]},
        {"field": "@message", "value": message},
        {"field": "@logStream", "value": STREAM},
        {"field": "@log", "value": f"{ACCOUNT_ID}:{group}"},
    ]


def _stats_row(minute, *, reports, inits=0, init_sum=0.0, billed=0.0, mem=128, group="/aws/lambda/orders"):
    return [
        {"field": "minute", "value": minute.strftime("%Y-%m-%d %H:%M:%S.000")},
        {"field": "@log", "value": f"{ACCOUNT_ID}:{group}"},
        {"field": "@memorySize", "value": str(mem)},
        {"field": "reports", "value": str(reports)},
        {"field": "inits", "value": str(inits)},
        {"field": "initSum", "value": str(init_sum)},
        {"field": "initMax", "value": str(init_sum)},
        {"field": "restores", "value": "0"},
        {"field": "billedSum", "value": str(billed)},
        {"field": "usedMax", "value": "60"},
    ]


def _groups(stub, *names):
    stub.add_response("describe_log_groups", {"logGroups": [{"logGroupName": f"/aws/lambda/{n}"} for n in names]})


def test_insights_stats_and_lines_are_parsed_like_filtered_events(aws, monkeypatch, settings):
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", memory_mb=128)
    end = now_minute()
    m1 = end - timedelta(minutes=2)
    stub = _stub(monkeypatch)
    _groups(stub, "orders")
    stub.add_response("start_query", {"queryId": "q-1"})
    stub.add_response("get_query_results", {"status": "Running", "results": []})
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "statistics": {"recordsMatched": 3.0, "recordsScanned": 10.0, "bytesScanned": 2048.0},
            # the bin of minute `end` holds only the over-read second and is dropped
            "results": [_stats_row(m1, reports=3, inits=1, init_sum=50.0, billed=300.0), _stats_row(end, reports=9)],
        },
    )
    stub.add_response("start_query", {"queryId": "q-2"})
    stub.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "statistics": {"recordsMatched": 2.0, "recordsScanned": 10.0, "bytesScanned": 2048.0},
            "results": [_row_fields(m1, "[ERROR] KeyError: 'x'"), _row_fields(m1, _report(7, billed=100, mem=128) + "Status: timeout")],
        },
    )
    with stub:
        at_clock(monkeypatch, logs, end)
        outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    stub.assert_no_pending_responses()
    row = _row("orders", m1)
    assert (row.reports, row.cold_starts, row.init_duration_sum, row.log_errors) == (4, 1, 50.0, 2)
    assert row.billed_duration_sum == 400.0 and row.billed_gb_s == pytest.approx(0.4 * 0.125)
    assert sorted(ErrorGroup.objects.values_list("error_type", flat=True)) == ["KeyError", "Task timed out"]
    assert not MinuteStat.objects.filter(ts=end).exists()


def test_failed_insights_query_falls_back_to_filter_log_events(aws, monkeypatch, settings):
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=2)
    stub = _stub(monkeypatch)
    _groups(stub, "orders")
    stub.add_response("start_query", {"queryId": "q-1"})
    stub.add_response("get_query_results", {"status": "Failed", "results": []})
    stub.add_response(
        "filter_log_events",
        {"events": [{"logStreamName": STREAM, "timestamp": int(m1.timestamp() * 1000) + 5, "message": _report(1), "eventId": "1"}]},
    )
    with stub:
        at_clock(monkeypatch, logs, end)
        outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and any("Insights unavailable" in w for w in outcome.warnings)
    assert _row("orders", m1).reports == 1


def test_insights_against_moto_gives_the_same_numbers_as_filter(aws, monkeypatch, settings):
    """moto's Logs Insights ignores the filter; whatever it answers, no line is lost or doubled."""
    settings.LOGS_SOURCE = "insights"
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    FunctionFactory(account=account, name="mailer")
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    _put("orders", [(m1 + timedelta(seconds=1), _report(1, init=10.0)), (m1 + timedelta(seconds=2), "[ERROR] KeyError: 'a'")])
    _put("mailer", [(m1 + timedelta(seconds=3), _report(2)), (m1 + timedelta(seconds=4), f"END RequestId: {_rid(2)}")])
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    orders, mailer = _row("orders", m1), _row("mailer", m1)
    assert (orders.reports, orders.cold_starts, orders.log_errors, mailer.reports, mailer.log_errors) == (1, 1, 1, 1, 0)
    assert ErrorGroup.objects.get().samples[0]["version"] == "$LATEST"


def test_a_function_deleted_mid_poll_and_a_run_out_of_time(filter_logs, monkeypatch, settings):
    from ops.models import Function

    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    FunctionFactory(account=account, name="gone")
    end = now_minute()
    m1 = end - timedelta(minutes=2)
    _put("orders", [(m1 + timedelta(seconds=1), _report(1))])
    _put("gone", [(m1 + timedelta(seconds=1), _report(2)), (m1 + timedelta(seconds=2), "[ERROR] ValueError: x")])
    at_clock(monkeypatch, logs, end)

    settings.POLL_RUN_SECONDS = -1
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and any("time budget" in w for w in outcome.warnings) and not MinuteStat.objects.exists()
    settings.POLL_RUN_SECONDS = 120

    real = aws_logs.filter_events

    def deleting(scope, group, **kw):
        out = list(real(scope, group, **kw))
        if group.endswith("/gone"):
            Function.objects.filter(name="gone").delete()
        return iter(out)

    monkeypatch.setattr(aws_logs, "filter_events", deleting)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok and any("deleted during the poll" in w for w in outcome.warnings)
    assert _row("orders", m1).reports == 1
