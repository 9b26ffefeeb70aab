"""CloudWatch fill-ins: percentiles, aligned buckets, exact dimensions, pagination, metric math."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from tests.clock import hours_ago

T0 = hours_ago(days=2)  # the 500-query test stores a whole day from T0
FN = [{"Name": "FunctionName", "Value": "orders"}]


def q(qid, name, stat, dims=FN, ns="AWS/Lambda", period=60):
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name, "Dimensions": dims},
                                      "Period": period, "Stat": stat}}


@pytest.fixture()
def cw(clean, aws):
    return aws("cloudwatch")


def test_percentiles_come_from_raw_samples(cw):
    values = list(range(1, 101))  # 1..100 ms, one sample each
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Duration", "Dimensions": FN, "Timestamp": T0, "Values": values, "Unit": "Milliseconds"},
        {"MetricName": "Duration", "Dimensions": FN, "Timestamp": T0, "Values": [5000.0], "Counts": [2]},
    ])
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(minutes=1), MetricDataQueries=[
        q("p50", "Duration", "p50"), q("p90", "Duration", "p90"), q("p99", "Duration", "p99"),
        q("cnt", "Duration", "SampleCount"), q("mx", "Duration", "Maximum"), q("avg", "Duration", "Average")])
    got = {r["Id"]: r["Values"] for r in res["MetricDataResults"]}
    assert got["p50"] == [51.0]
    assert got["p90"] == [92.0]
    assert got["p99"] == [5000.0]
    assert got["cnt"] == [102.0]
    assert got["mx"] == [5000.0]
    assert got["avg"] == [pytest.approx((5050 + 10000) / 102)]


def test_buckets_align_to_period_boundaries(cw):
    data = [{"MetricName": "Invocations", "Dimensions": FN, "Timestamp": T0 + timedelta(minutes=m), "Value": 1.0}
            for m in range(0, 20)]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data)
    res = cw.get_metric_data(StartTime=T0 + timedelta(minutes=2, seconds=23), EndTime=T0 + timedelta(minutes=20),
                             ScanBy="TimestampAscending",
                             MetricDataQueries=[q("s", "Invocations", "Sum", period=300)])
    r = res["MetricDataResults"][0]
    stamps = [t.astimezone(timezone.utc) for t in r["Timestamps"]]
    assert stamps == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10), T0 + timedelta(minutes=15)]
    assert r["Values"] == [5.0, 5.0, 5.0, 5.0]


def test_dimension_sets_and_namespaces_are_exact(cw):
    alias = FN + [{"Name": "Resource", "Value": "orders:live"}]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Dimensions": FN, "Timestamp": T0, "Value": 3.0},
        {"MetricName": "Errors", "Dimensions": alias, "Timestamp": T0, "Value": 2.0},
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "billing"}], "Timestamp": T0, "Value": 4.0},
    ])
    cw.put_metric_data(Namespace="Other/NS", MetricData=[
        {"MetricName": "Errors", "Dimensions": FN, "Timestamp": T0, "Value": 1000.0}])
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(minutes=1), MetricDataQueries=[
        q("fn", "Errors", "Sum"), q("alias", "Errors", "Sum", dims=list(reversed(alias))),
        q("none", "Errors", "Sum", dims=[]), q("other", "Errors", "Sum", ns="Other/NS"),
        q("missing", "Errors", "Sum", dims=[{"Name": "FunctionName", "Value": "nope"}])])
    got = {r["Id"]: r["Values"] for r in res["MetricDataResults"]}
    # no dimensions: the account × region aggregate, the sum over functions (alias series not again)
    assert got == {"fn": [3.0], "alias": [2.0], "none": [7.0], "other": [1000.0], "missing": []}


def test_max_datapoints_and_next_token(cw):
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": name, "Dimensions": FN, "Timestamp": T0 + timedelta(minutes=m), "Value": float(m)}
        for m in range(30) for name in ("Invocations", "Errors")])
    queries = [q("a", "Invocations", "Sum"), q("b", "Errors", "Sum")]
    seen: dict[str, list] = {"a": [], "b": []}
    statuses = []
    kw = dict(StartTime=T0, EndTime=T0 + timedelta(minutes=30), MetricDataQueries=queries, MaxDatapoints=7)
    pages = 0
    while True:
        res = cw.get_metric_data(**kw)
        pages += 1
        assert sum(len(r["Values"]) for r in res["MetricDataResults"]) <= 7
        for r in res["MetricDataResults"]:
            seen[r["Id"]].extend(r["Values"])
            statuses.append(r["StatusCode"])
        if not res.get("NextToken"):
            break
        kw["NextToken"] = res["NextToken"]
    assert pages == 9
    assert sorted(seen["a"]) == [float(m) for m in range(30)]
    assert sorted(seen["b"]) == [float(m) for m in range(30)]
    assert "PartialData" in statuses and statuses[-1] == "Complete"


def test_simple_metric_math(cw):
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Dimensions": FN, "Timestamp": T0, "Value": 200.0},
        {"MetricName": "Errors", "Dimensions": FN, "Timestamp": T0, "Value": 5.0}])
    queries = [dict(q("m1", "Errors", "Sum"), ReturnData=False), dict(q("m2", "Invocations", "Sum"), ReturnData=False),
               {"Id": "rate", "Expression": "m1/m2*100", "Label": "error rate"}]
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(minutes=1), MetricDataQueries=queries)
    assert [(r["Id"], r["Values"]) for r in res["MetricDataResults"]] == [("rate", [2.5])]


def test_list_metrics_once_per_series_and_statistics(cw):
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Duration", "Dimensions": FN + [{"Name": "Resource", "Value": "orders:live"}],
         "Timestamp": T0 + timedelta(minutes=m), "Values": [10.0, 20.0, 300.0]} for m in range(5)])
    metrics = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Duration")["Metrics"]
    assert len(metrics) == 1
    stats = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration",
                                     Dimensions=FN + [{"Name": "Resource", "Value": "orders:live"}],
                                     StartTime=T0, EndTime=T0 + timedelta(minutes=5), Period=300,
                                     Statistics=["Sum", "Maximum"], ExtendedStatistics=["p50"])
    (dp,) = stats["Datapoints"]
    assert dp["Sum"] == 1650.0 and dp["Maximum"] == 300.0 and dp["ExtendedStatistics"]["p50"] == 20.0


def test_full_500_query_day_call_pages_through(cw, server):
    from sandbox.fills.metrics import store_for

    store = store_for("123456789012", "us-east-1")
    base = int(T0.timestamp())
    for f in range(100):
        for name in ("Invocations", "Errors", "Duration", "Throttles", "ConcurrentExecutions"):
            s = store.get_or_create("AWS/Lambda", name, {"FunctionName": f"fn-{f}"})
            for m in range(1440):
                s.add_values(base + m * 60, [float(m % 7)], None)
    queries = [q(f"q{f}_{i}", name, "p99" if name == "Duration" else "Sum",
                 dims=[{"Name": "FunctionName", "Value": f"fn-{f}"}])
               for f in range(100) for i, name in enumerate(("Invocations", "Errors", "Duration", "Throttles",
                                                              "ConcurrentExecutions"))]
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(days=1), MetricDataQueries=queries)
    assert sum(len(r["Values"]) for r in res["MetricDataResults"]) == 100800
    assert res["NextToken"]


def test_compressed_put_metric_data_is_accepted(clean):
    """boto3's default request compression (gzip) works without disable_request_compression."""
    import boto3
    from botocore.config import Config

    cw = boto3.client("cloudwatch", endpoint_url=clean.endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=Config(retries={"total_max_attempts": 1}, request_min_compression_size_bytes=1))
    cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "x", "Value": 4.0, "Timestamp": T0}] * 50)
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(minutes=1),
                             MetricDataQueries=[q("s", "x", "Sum", dims=[], ns="App")])
    assert res["MetricDataResults"][0]["Values"] == [200.0]


def test_lambda_aggregates_without_dimensions_are_the_sum_and_the_max_over_functions(cw):
    def fn(name):
        return [{"Name": "FunctionName", "Value": name}]

    t1 = T0 + timedelta(minutes=1)
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Dimensions": fn("a"), "Timestamp": T0, "Value": 10.0},
        {"MetricName": "Invocations", "Dimensions": fn("b"), "Timestamp": T0, "Value": 5.0},
        {"MetricName": "Invocations", "Dimensions": fn("b"), "Timestamp": t1, "Value": 2.0},
        {"MetricName": "DeadLetterErrors", "Dimensions": fn("a"), "Timestamp": t1, "Value": 3.0},
        {"MetricName": "ConcurrentExecutions", "Dimensions": fn("a"), "Timestamp": T0, "Value": 4.0},
        {"MetricName": "ConcurrentExecutions", "Dimensions": fn("b"), "Timestamp": T0, "Value": 9.0},
        # a Resource (alias) series is part of its function's, never added again
        {"MetricName": "Invocations", "Dimensions": fn("a") + [{"Name": "Resource", "Value": "a:live"}],
         "Timestamp": T0, "Value": 10.0},
    ])
    res = cw.get_metric_data(StartTime=T0, EndTime=T0 + timedelta(minutes=2), ScanBy="TimestampAscending",
                             MetricDataQueries=[q("inv", "Invocations", "Sum", dims=[]),
                                                q("dlq", "DeadLetterErrors", "Sum", dims=[]),
                                                q("conc", "ConcurrentExecutions", "Maximum", dims=[]),
                                                q("thr", "Throttles", "Sum", dims=[])])
    got = {r["Id"]: r["Values"] for r in res["MetricDataResults"]}
    assert got == {"inv": [15.0, 2.0], "dlq": [3.0], "conc": [9.0], "thr": []}
