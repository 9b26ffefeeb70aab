import math
from datetime import timedelta

import pytest

from ops.aws import cloudwatch
from ops.aws.cloudwatch import DatapointBucket, MetricQuery
from ops.pollers.metrics import plan
from tests.clock import hours_ago

T0 = hours_ago(2)


def _queries(n):
    return [MetricQuery("AWS/Lambda", "Invocations", (("FunctionName", f"fn-{i}"),), "Sum") for i in range(n)]


def test_a_cycle_for_1000_functions_takes_ceil_queries_over_500_calls():
    specs = plan.function_specs(percentiles=["p50", "p90", "p99"], stream=False, provisioned=False)
    n = 1000 * len(specs)
    parts = cloudwatch.batches(_queries(n), T0 - timedelta(minutes=20), T0)
    assert len(parts) == math.ceil(n / 500)
    assert sum(len(p) for p in parts) == n and max(len(p) for p in parts) == 500


def test_long_windows_carry_fewer_queries_per_call_to_stay_under_100800_points():
    start = T0 - timedelta(days=1)  # 1,440 points per query
    assert cloudwatch.queries_per_call(start, T0) == 100_800 // 1440 == 70
    assert cloudwatch.queries_per_call(T0 - timedelta(minutes=200), T0) == 500
    for part in cloudwatch.batches(_queries(300), start, T0):
        assert len(part) * cloudwatch.estimated_points(start, T0) <= cloudwatch.MAX_POINTS_PER_CALL


def test_request_params_are_a_pure_function_of_the_queries():
    q = MetricQuery("AWS/Lambda", "Duration", (("FunctionName", "a"), ("Resource", "a:live")), "p99")
    params = cloudwatch.request_params([q], T0 - timedelta(minutes=5), T0)
    (mdq,) = params["MetricDataQueries"]
    assert mdq["Id"] == "q0" and mdq["MetricStat"]["Stat"] == "p99" and mdq["MetricStat"]["Period"] == 60
    assert mdq["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": "a"}, {"Name": "Resource", "Value": "a:live"}]
    with pytest.raises(ValueError):
        cloudwatch.request_params(_queries(501), T0 - timedelta(minutes=5), T0)


def test_token_bucket_paces_estimated_datapoints():
    clock = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        clock[0] += s

    b = DatapointBucket(100_000, clock=lambda: clock[0], sleep=sleep)
    assert b.take(100_000) == 0  # a full bucket
    assert b.take(50_000) == pytest.approx(0.5)
    clock[0] += 10
    assert b.take(10_000) == 0
    assert sum(slept) == pytest.approx(0.5)


def test_cadence_stretches_to_stay_within_budget():
    # 1,000 functions × 15 queries, all busy: every minute would cost $216/day.
    full = plan.plan_cadence(busy_queries=15_000, idle_queries=0, fixed_queries=3, budget_usd=1000)
    assert full.busy_s == 60 and full.usd_per_day == pytest.approx(216.0432)
    tight = plan.plan_cadence(busy_queries=3_000, idle_queries=12_000, fixed_queries=3, budget_usd=20)
    assert tight.usd_per_day <= 20 and tight.busy_s > 60 and tight.idle_s == 900
