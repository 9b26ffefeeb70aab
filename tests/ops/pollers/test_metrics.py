from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ops.aws import cloudwatch
from ops.models import Function, MinuteStat, PollStatus, QueueStat, RegionStat, Series
from ops.pollers.metrics import poll as metrics
from ops.pollers.metrics import plan
from tests.factories import AccountFactory, AliasFactory, FunctionFactory
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, FAST, REGION, at_clock, now_minute, put_points, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def moto_metrics(aws, settings):
    # moto answers percentile statistics with HTTP 500 once data exists; those are covered by
    # the Stubber tests below.
    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    return aws


def _rows(fn_name: str, kind: str = "function", qualifier: str = ""):
    return {
        m.ts: m
        for m in MinuteStat.objects.filter(series__function__name=fn_name, series__kind=kind, series__qualifier=qualifier)
    }


def _state():
    return sorted(
        MinuteStat.objects.values_list("series_id", "ts", "invocations", "errors", "throttles", "duration_avg", "duration_max")
    )


def test_stored_numbers_equal_what_was_put_and_a_rerun_changes_nothing(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    fn = FunctionFactory(account=account, name="orders", timeout_s=30)
    AliasFactory(function=fn, name="live", version="1", weights={"2": 0.25})
    end = now_minute()
    minutes = [end - timedelta(minutes=k) for k in range(3, 13)]
    put_points("Invocations", {"FunctionName": "orders"}, {m: 10 + i for i, m in enumerate(minutes)})
    put_points("Errors", {"FunctionName": "orders"}, {minutes[0]: 2})
    put_points("Duration", {"FunctionName": "orders"}, {m: 100.0 for m in minutes})
    put_points("Invocations", {"FunctionName": "orders", "Resource": "orders:live"}, {minutes[1]: 7})
    put_points(
        "Invocations", {"FunctionName": "orders", "Resource": "orders:live", "ExecutedVersion": "2"}, {minutes[1]: 3}
    )
    put_points("ClaimedAccountConcurrency", {}, {minutes[2]: 42})
    at_clock(monkeypatch, metrics, end + timedelta(seconds=20))

    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok, outcome
    rows = _rows("orders")
    assert {ts: r.invocations for ts, r in rows.items()} == {m: 10 + i for i, m in enumerate(minutes)}
    assert rows[minutes[0]].errors == 2 and rows[minutes[1]].errors == 0  # missing count → 0
    assert rows[minutes[0]].duration_avg == 100.0 and rows[minutes[0]].duration_p99 is None
    assert _rows("orders", "alias", "live")[minutes[1]].invocations == 7
    assert _rows("orders", "version", "2")[minutes[1]].invocations == 3
    assert RegionStat.objects.get(ts=minutes[2]).claimed_concurrency_max == 42
    assert set(Series.objects.values_list("kind", "qualifier")) == {("function", ""), ("alias", "live"), ("version", "1"), ("version", "2")}

    before = _state()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=1, seconds=20))
    again = run("metrics", account, metrics.metrics_poll)
    # one new row: the region's new minute, quiet (its counts 0, so the trigger's baseline knows it)
    assert again.ok and again.items == 1
    assert _state() == before


def test_late_points_are_picked_up_on_the_next_poll(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", timeout_s=120)
    end = now_minute()
    late_minute = end - timedelta(minutes=5)
    put_points("Invocations", {"FunctionName": "orders"}, {late_minute: 4})
    at_clock(monkeypatch, metrics, end)
    assert run("metrics", account, metrics.metrics_poll).ok
    assert _rows("orders")[late_minute].invocations == 4

    # A long invocation that started in that minute ends and is published afterwards.
    put_points("Invocations", {"FunctionName": "orders"}, {late_minute: 1})
    put_points("Errors", {"FunctionName": "orders"}, {late_minute: 1})
    at_clock(monkeypatch, metrics, end + timedelta(minutes=1))
    assert run("metrics", account, metrics.metrics_poll).ok
    row = _rows("orders")[late_minute]
    assert (row.invocations, row.errors) == (5, 1)


def test_catch_up_after_a_two_hour_stop_leaves_no_gap(moto_metrics, monkeypatch, settings):
    settings.METRICS_CHUNK_MINUTES = 45  # several chunks, walked oldest first
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders", timeout_s=60)
    end = now_minute()
    minutes = [end - timedelta(minutes=k) for k in range(1, 150)]
    put_points("Invocations", {"FunctionName": "orders"}, {m: 1 for m in minutes})

    stopped = end - timedelta(hours=2)
    at_clock(monkeypatch, metrics, stopped)
    assert run("metrics", account, metrics.metrics_poll).ok
    assert max(_rows("orders")) < stopped

    at_clock(monkeypatch, metrics, end)
    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok, outcome
    assert sorted(_rows("orders")) == sorted(minutes)
    cursor = PollStatus.objects.get(source="metrics", account=account).cursor
    fn = Function.objects.get(name="orders")
    assert cursor["until"][str(fn.pk)] == end.isoformat()


def test_dlq_depth_is_read_for_known_dead_letter_queues(moto_metrics, monkeypatch):
    from ops.models import FunctionQueue, Queue

    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    fn = FunctionFactory(account=account, name="orders")
    q = Queue.objects.create(
        account=account, region=REGION, arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:orders-dlq", name="orders-dlq", last_seen=fn.last_seen
    )
    FunctionQueue.objects.create(function=fn, queue=q, role="lambda_dlq")
    end = now_minute()
    m = end - timedelta(minutes=4)
    put_points("ApproximateNumberOfMessagesVisible", {"QueueName": "orders-dlq"}, {m: 12}, namespace="AWS/SQS")
    put_points("ApproximateAgeOfOldestMessage", {"QueueName": "orders-dlq"}, {m: 300}, namespace="AWS/SQS")
    at_clock(monkeypatch, metrics, end)
    assert run("metrics", account, metrics.metrics_poll).ok
    stat = QueueStat.objects.get(queue=q, ts=m)
    assert (stat.visible_max, stat.oldest_age_max_s, stat.sent) == (12, 300, 0)


def test_function_deleted_mid_poll_is_a_warning_not_a_failure(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    FunctionFactory(account=account, name="mailer")
    end = now_minute()
    for name in ("orders", "mailer"):
        put_points("Invocations", {"FunctionName": name}, {end - timedelta(minutes=3): 1})
    real = cloudwatch.metric_data

    def deleting(*a, **kw):
        out = real(*a, **kw)
        Function.objects.filter(name="mailer").delete()
        return out

    monkeypatch.setattr(cloudwatch, "metric_data", deleting)
    at_clock(monkeypatch, metrics, end)
    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok
    assert any("vanished" in w for w in outcome.warnings)
    assert list(_rows("orders").values())[0].invocations == 1


def test_clock_stepping_back_is_recorded(moto_metrics, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    at_clock(monkeypatch, metrics, end + timedelta(hours=1))
    assert run("metrics", account, metrics.metrics_poll).ok
    at_clock(monkeypatch, metrics, end)
    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok and any("clock stepped back" in w for w in outcome.warnings)
    status = PollStatus.objects.get(source="metrics", account=account)
    assert any("clock stepped back" in w["message"] for w in status.warnings)


# --- Where moto cannot answer: percentiles, NextToken, PartialData, throttling (Stubber) -------


def _stubbed(monkeypatch):
    c = boto3.client("cloudwatch", region_name=REGION, config=FAST)
    stub = Stubber(c)
    monkeypatch.setattr(cloudwatch, "client", lambda service, scope: c)
    return stub


def _fn_specs():
    return plan.function_specs(percentiles=["p50", "p90", "p99"], stream=False, provisioned=False)


def _result(i, points, status="Complete"):
    return {"Id": f"q{i}", "Label": "x", "Timestamps": list(points), "Values": list(points.values()), "StatusCode": status}


def test_percentiles_and_next_token_pages_are_stored(aws, monkeypatch, settings):
    settings.METRICS_PERCENTILES = ["p50", "p90", "p99"]
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1, m2 = end - timedelta(minutes=3), end - timedelta(minutes=2)
    col = {s.column: i for i, s in enumerate(_fn_specs())}
    n_fn = len(_fn_specs())
    stub = _stubbed(monkeypatch)
    stub.add_response("get_metric_data", {"MetricDataResults": []})  # the scope's aggregates, read first
    page1 = [_result(col["invocations"], {m1: 10.0}, "PartialData"), _result(col["duration_p99"], {m1: 900.0})]
    page2 = [_result(col["invocations"], {m2: 20.0}), _result(col["duration_p50"], {m1: 80.0, m2: 85.0})]
    page2 += [_result(i, {}) for i in range(n_fn) if i not in (col["invocations"], col["duration_p50"])]
    stub.add_response("get_metric_data", {"MetricDataResults": page1, "NextToken": "more"})
    stub.add_response("get_metric_data", {"MetricDataResults": page2})
    with stub:
        at_clock(monkeypatch, metrics, end)
        outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok, outcome
    rows = _rows("orders")
    assert (rows[m1].invocations, rows[m2].invocations) == (10, 20)
    assert (rows[m1].duration_p99, rows[m1].duration_p50, rows[m2].duration_p50) == (900.0, 80.0, 85.0)
    assert outcome.warnings == ()


def test_partial_data_and_throttling_are_warnings_and_the_window_is_re_read(aws, monkeypatch, settings):
    settings.METRICS_PERCENTILES = []
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    stub = _stubbed(monkeypatch)
    stub.add_response("get_metric_data", {"MetricDataResults": []})  # the scope's aggregates, read first
    stub.add_client_error("get_metric_data", service_error_code="Throttling", service_message="Rate exceeded", http_status_code=400)
    stub.add_response("get_metric_data", {"MetricDataResults": [_result(0, {m1: 3.0}, "PartialData")]})
    stub.add_response("get_metric_data", {"MetricDataResults": [_result(0, {m1: 5.0})]})
    with stub:
        at_clock(monkeypatch, metrics, end)
        first = run("metrics", account, metrics.metrics_poll)
        assert first.ok and any("Throttling" in w for w in first.warnings)
        assert not MinuteStat.objects.exists()
        second = run("metrics", account, metrics.metrics_poll)
        assert second.ok and any("PartialData" in w for w in second.warnings)
        assert _rows("orders")[m1].invocations == 3
        third = run("metrics", account, metrics.metrics_poll)  # same minute: re-read because partial
        assert third.ok and not third.warnings
    assert _rows("orders")[m1].invocations == 5


def test_access_denied_fails_the_run_with_the_reason(aws, monkeypatch):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    stub = _stubbed(monkeypatch)
    stub.add_client_error("get_metric_data", service_error_code="AccessDenied", service_message="no", http_status_code=403)
    with stub:
        outcome = run("metrics", account, metrics.metrics_poll)
    assert (outcome.ok, outcome.error_code) == (False, "AccessDenied")


def test_idle_functions_are_polled_less_often(moto_metrics, monkeypatch, settings):
    settings.METRICS_IDLE_POLL_SECONDS = 600
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="busy")
    FunctionFactory(account=account, name="idle")
    end = now_minute()
    put_points("Invocations", {"FunctionName": "busy"}, {end - timedelta(minutes=2): 1})
    calls = []
    real = cloudwatch.metric_data

    def counting(scope, queries, **kw):
        calls.append({q.dimensions[0][1] for q in queries if q.dimensions})
        return real(scope, queries, **kw)

    monkeypatch.setattr(cloudwatch, "metric_data", counting)
    at_clock(monkeypatch, metrics, end)
    run("metrics", account, metrics.metrics_poll)
    assert calls[-1] == {"busy", "idle"}
    calls.clear()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=1))
    run("metrics", account, metrics.metrics_poll)
    assert set().union(*calls) == {"busy"}
    calls.clear()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=10))
    run("metrics", account, metrics.metrics_poll)
    assert set().union(*calls) == {"busy", "idle"}


def test_an_idle_function_is_probed_cheaply_and_read_in_full_once_it_wakes(moto_metrics, monkeypatch, settings):
    settings.METRICS_IDLE_POLL_SECONDS = 600
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="sleepy")
    end = now_minute()
    asked = []
    real = cloudwatch.metric_data

    def recording(scope, queries, **kw):
        if any(q.dimensions for q in queries):  # not the scope's own call (aggregates, no dimensions)
            asked.append([(q.metric, q.stat) for q in queries if q.dimensions])
        return real(scope, queries, **kw)

    monkeypatch.setattr(cloudwatch, "metric_data", recording)
    at_clock(monkeypatch, metrics, end)
    run("metrics", account, metrics.metrics_poll)  # new: read in full
    assert len(asked[-1]) == len(plan.function_specs(percentiles=[], stream=False, provisioned=False))

    asked.clear()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=10))
    run("metrics", account, metrics.metrics_poll)  # idle and quiet: the probe only
    assert asked == [[(s.metric, s.stat) for s in plan.PROBE]]

    woke = end + timedelta(minutes=12)
    put_points("Invocations", {"FunctionName": "sleepy"}, {woke: 3})
    put_points("Duration", {"FunctionName": "sleepy"}, {woke: 40.0})
    asked.clear()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=20))
    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok and len(asked) == 2 and len(asked[1]) > len(plan.PROBE)  # probe, then the full set
    row = _rows("sleepy")[woke]
    assert (row.invocations, row.duration_avg) == (3, 40.0)

    asked.clear()
    at_clock(monkeypatch, metrics, end + timedelta(minutes=21))
    run("metrics", account, metrics.metrics_poll)  # busy now: every run, full set
    assert len(asked) == 1 and len(asked[0]) > len(plan.PROBE)


def test_a_run_out_of_time_leaves_the_rest_for_the_next_run(moto_metrics, monkeypatch, settings):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    end = now_minute()
    put_points("Invocations", {"FunctionName": "orders"}, {end - timedelta(minutes=2): 1})
    at_clock(monkeypatch, metrics, end)
    settings.POLL_RUN_SECONDS = -1
    outcome = run("metrics", account, metrics.metrics_poll)
    assert outcome.ok and any("continues next run" in w for w in outcome.warnings)
    assert not MinuteStat.objects.exists()
    settings.POLL_RUN_SECONDS = 120
    assert run("metrics", account, metrics.metrics_poll).ok
    assert _rows("orders")[end - timedelta(minutes=2)].invocations == 1


def test_persistent_partial_data_is_accepted_after_a_few_reads(aws, monkeypatch, settings):
    settings.METRICS_PERCENTILES = []
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    fn = FunctionFactory(account=account, name="orders")
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    stub = _stubbed(monkeypatch)
    stub.add_response("get_metric_data", {"MetricDataResults": []})  # the scope's aggregates, read first
    for _ in range(metrics.PARTIAL_RETRIES):
        stub.add_response("get_metric_data", {"MetricDataResults": [_result(0, {m1: 3.0}, "PartialData")]})
    with stub:
        at_clock(monkeypatch, metrics, end)
        outcomes = [run("metrics", account, metrics.metrics_poll) for _ in range(metrics.PARTIAL_RETRIES)]
    assert all(o.ok for o in outcomes)
    assert not any("accepted partial" in w for o in outcomes[:-1] for w in o.warnings)
    assert any("accepted partial" in w for w in outcomes[-1].warnings)
    cursor = PollStatus.objects.get(source="metrics", account=account).cursor
    assert cursor["until"][str(fn.pk)] == end.isoformat() and cursor["partial"] == {}
