"""The seeded estate plus generated traffic: everything the APIs return matches the ledger."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sandbox_aws import make_client
from tests.clock import hours_ago
from sandbox.estate import PROD_ACCOUNT_ID, STAGING_ACCOUNT_ID
from sandbox.testing import generate, ledger, ledger_totals, seed_estate

START = hours_ago(2)
MINUTES = 60


@pytest.fixture(scope="module")
def world(server):
    server.reset()
    estate = seed_estate(server, small=True)
    counts = generate(server, start=START, minutes=MINUTES, seed=7)
    return server, estate, counts


def client(world, service, account=PROD_ACCOUNT_ID, region="us-east-1"):
    return make_client(world[0].endpoint, service, account=account, region=region)


def metric_sum(cw, name, dims, stat="Sum", start=START, minutes=MINUTES, period=60):
    res = cw.get_metric_data(StartTime=start, EndTime=start + timedelta(minutes=minutes), MetricDataQueries=[{
        "Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": name,
                                             "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                                  "Period": period, "Stat": stat}}])
    return sum(res["MetricDataResults"][0]["Values"])


def test_estate_shape(world):
    _server, estate, _ = world
    assert {f.account for f in estate.functions} == {PROD_ACCOUNT_ID, STAGING_ACCOUNT_ID}
    lam = client(world, "lambda")
    names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]]
    assert sorted(names) == ["email-sender", "orders-api", "payments-worker"]
    live = lam.get_alias(FunctionName="orders-api", Name="live")
    assert live["FunctionVersion"] == "1" and live["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    email = lam.get_function(FunctionName="email-sender")
    assert email["Configuration"]["DeadLetterConfig"]["TargetArn"].endswith(":email-sender-dlq")
    assert email["Tags"]["team"] == "growth"
    on_failure = lam.get_function_event_invoke_config(FunctionName="email-sender")
    assert on_failure["DestinationConfig"]["OnFailure"]["Destination"].endswith(":email-sender-failures")
    esm = lam.list_event_source_mappings(FunctionName="payments-worker")["EventSourceMappings"]
    assert esm and esm[0]["EventSourceArn"].endswith(":payments-queue")
    assert lam.get_function_concurrency(FunctionName="payments-worker")["ReservedConcurrentExecutions"] == 20
    pcs = lam.list_provisioned_concurrency_configs(FunctionName="orders-api")["ProvisionedConcurrencyConfigs"]
    assert [(c["FunctionArn"].rsplit(":", 1)[1], c["AllocatedProvisionedConcurrentExecutions"]) for c in pcs] == [("live", 2)]
    sqs = client(world, "sqs")
    src = sqs.get_queue_url(QueueName="payments-queue")["QueueUrl"]
    assert "payments-dlq" in sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    staging = client(world, "lambda", account=STAGING_ACCOUNT_ID)
    assert [f["FunctionName"] for f in staging.list_functions()["Functions"]] == ["orders-api"]
    eu = {f["FunctionName"] for f in client(world, "lambda", region="eu-west-1").list_functions()["Functions"]}
    assert eu == {"report-builder", "clickstream-ingest"}


def test_invocations_and_errors_match_ledger(world):
    server, estate, _ = world
    for f in estate.functions:
        cw = client(world, "cloudwatch", account=f.account, region=f.region)
        truth = ledger_totals(server, function=f.name, account=f.account, region=f.region)
        assert metric_sum(cw, "Invocations", {"FunctionName": f.name}) == truth.get("invocations", 0), f.name
        assert metric_sum(cw, "Errors", {"FunctionName": f.name}) == truth.get("errors", 0), f.name
    assert ledger_totals(server, function="orders-api", account=PROD_ACCOUNT_ID)["invocations"] > 100


def test_alias_and_executed_version_series(world):
    server, _estate, _ = world
    cw = client(world, "cloudwatch")
    rows = ledger(server, function="orders-api", account=PROD_ACCOUNT_ID, by_version=True)
    per_version: dict[str, int] = {}
    for r in rows:
        per_version[r["version"]] = per_version.get(r["version"], 0) + r["invocations"]
    assert set(per_version) == {"1", "2"} and per_version["2"] < per_version["1"]
    res = {"FunctionName": "orders-api", "Resource": "orders-api:live"}
    assert metric_sum(cw, "Invocations", res) == sum(per_version.values())
    for v, n in per_version.items():
        assert metric_sum(cw, "Invocations", {**res, "ExecutedVersion": v}) == n
    p99 = metric_sum(cw, "Duration", {"FunctionName": "orders-api"}, stat="p99", period=3600)
    p50 = metric_sum(cw, "Duration", {"FunctionName": "orders-api"}, stat="p50", period=3600)
    assert 0 < p50 < p99 <= 10_000
    total = sum(metric_sum(client(world, "cloudwatch", account=a, region=r), "Invocations", {})
                for a in (PROD_ACCOUNT_ID,) for r in ("us-east-1",))
    assert total == sum(ledger_totals(server, function=n, account=PROD_ACCOUNT_ID, region="us-east-1").get("invocations", 0)
                        for n in ("orders-api", "payments-worker", "email-sender"))


def _events(logs, group, start=START, minutes=MINUTES, pattern=""):
    out, kw = [], dict(logGroupName=group, startTime=int(start.timestamp() * 1000),
                       endTime=int((start + timedelta(minutes=minutes)).timestamp() * 1000) - 1, filterPattern=pattern)
    while True:
        page = logs.filter_log_events(**kw)
        out += page["events"]
        if not page.get("nextToken"):
            return out
        kw["nextToken"] = page["nextToken"]


def test_report_lines_match_ledger(world):
    server, _estate, _ = world
    logs = client(world, "logs")
    truth = ledger_totals(server, function="orders-api", account=PROD_ACCOUNT_ID)
    reports = _events(logs, "/aws/lambda/orders-api", pattern="REPORT")
    assert len(reports) == truth["invocations"]
    assert sum("Init Duration" in e["message"] for e in reports) == truth["cold_starts"]
    billed = sum(int(re.search(r"Billed Duration: (\d+) ms", e["message"]).group(1)) for e in reports)
    assert billed == truth["billed_duration_ms"]
    gbs = sum(int(re.search(r"Billed Duration: (\d+) ms", e["message"]).group(1)) / 1000 * 512 / 1024 for e in reports)
    assert gbs == pytest.approx(truth["billed_gb_s"])
    streams = {e["logStreamName"] for e in reports}
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}", s) for s in streams)
    assert len(streams) >= truth["cold_starts"]


def test_json_format_function_reports_via_insights(world):
    server, _estate, _ = world
    logs = client(world, "logs")
    truth = ledger_totals(server, function="email-sender", account=PROD_ACCOUNT_ID)
    qid = logs.start_query(logGroupName="/aws/lambda/email-sender", startTime=int(START.timestamp()),
                           endTime=int((START + timedelta(minutes=MINUTES)).timestamp()) - 1,
                           queryString='filter @type = "REPORT" | stats count(*) as n, sum(@billedDuration) as billed, '
                                       'count(@initDuration) as cold')["queryId"]
    (row,) = logs.get_query_results(queryId=qid)["results"]
    got = {f["field"]: f["value"] for f in row}
    assert int(got["n"]) == truth["invocations"]
    assert int(got["cold"]) == truth["cold_starts"]
    assert int(float(got["billed"])) == truth["billed_duration_ms"]


def test_dlq_depth_matches_messages_sent(world):
    server, _estate, _ = world
    sqs = client(world, "sqs")
    for fn, queue, field in (("payments-worker", "payments-dlq", "dlq_messages_sent"),
                             ("email-sender", "email-sender-dlq", "dlq_messages_sent"),
                             ("email-sender", "email-sender-failures", "destination_messages_sent")):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        depth = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                    ["Attributes"]["ApproximateNumberOfMessages"])
        assert depth == ledger_totals(server, function=fn, account=PROD_ACCOUNT_ID)[field] > 0, queue
    url = sqs.get_queue_url(QueueName="email-sender-dlq")["QueueUrl"]
    msg = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"],
                              VisibilityTimeout=0)["Messages"][0]
    assert {"RequestID", "ErrorCode", "ErrorMessage"} <= set(msg["MessageAttributes"])
    sent = int(msg["Attributes"]["SentTimestamp"]) / 1000
    assert START.timestamp() <= sent < START.timestamp() + MINUTES * 60  # simulated send time
    cw = client(world, "cloudwatch")
    res = cw.get_metric_data(StartTime=START, EndTime=START + timedelta(minutes=MINUTES), MetricDataQueries=[{
        "Id": "d", "MetricStat": {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
                                             "Dimensions": [{"Name": "QueueName", "Value": "payments-dlq"}]},
                                  "Period": 60, "Stat": "Maximum"}}])
    assert max(res["MetricDataResults"][0]["Values"]) > 0


def test_traces_have_lambda_segments(world):
    xray = client(world, "xray")
    summaries = [s for p in xray.get_paginator("get_trace_summaries").paginate(
        StartTime=START, EndTime=START + timedelta(minutes=MINUTES), FilterExpression='service("orders-api")')
        for s in p["TraceSummaries"]]
    assert summaries
    cold = [s for p in xray.get_paginator("get_trace_summaries").paginate(
        StartTime=START, EndTime=START + timedelta(minutes=MINUTES), FilterExpression="annotation.cold_start = true")
        for s in p["TraceSummaries"]]
    if cold:
        import json

        docs = [json.loads(seg["Document"]) for seg in
                xray.batch_get_traces(TraceIds=[cold[0]["Id"]])["Traces"][0]["Segments"]]
        fn_seg = next(d for d in docs if d.get("origin") == "AWS::Lambda::Function")
        assert fn_seg["subsegments"][0]["name"] == "Initialization"
    faults = [s for p in xray.get_paginator("get_trace_summaries").paginate(
        StartTime=START, EndTime=START + timedelta(minutes=MINUTES), FilterExpression="fault")
        for s in p["TraceSummaries"]]
    assert all(s["HasFault"] for s in faults)


def test_ledger_over_http_and_determinism(world):
    server, estate, _ = world
    over_http = ledger(server.endpoint, function="orders-api", start=START, end=START + timedelta(minutes=MINUTES))
    assert over_http == ledger(server, function="orders-api", start=START, end=START + timedelta(minutes=MINUTES))
    from sandbox.traffic import Generator

    def run_once():
        gen = Generator(estate, seed=7)
        return [gen.slice(int(START.timestamp()) + 60 * i).ledger for i in range(10)]

    assert run_once() == run_once()


def test_prune_drops_old_telemetry(world):
    """Runs last in this module: pruning the first half hour removes it from every API and the ledger."""
    from sandbox.retention import prune

    server = world[0]
    cut = START + timedelta(minutes=30)
    dropped = prune(cut.timestamp())
    assert dropped["buckets"] > 0 and dropped["log_events"] > 0 and dropped["ledger_rows"] > 0
    assert ledger(server, end=cut) == []
    cw = make_client(server.endpoint, "cloudwatch")
    res = cw.get_metric_data(StartTime=START, EndTime=cut, MetricDataQueries=[{
        "Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                             "Dimensions": [{"Name": "FunctionName", "Value": "orders-api"}]},
                                  "Period": 60, "Stat": "Sum"}}])
    assert res["MetricDataResults"][0]["Values"] == []
    assert metric_sum(cw, "Invocations", {"FunctionName": "orders-api"}, start=cut, minutes=30) == \
        ledger_totals(server, function="orders-api", account=PROD_ACCOUNT_ID, start=cut)["invocations"]


def test_seeding_again_is_harmless(world):
    server, estate, _ = world
    again = seed_estate(server, small=True)
    assert again.function_arns == estate.function_arns
    assert sorted(q["name"] for q in again.queues) == sorted(q["name"] for q in estate.queues)


def test_generate_is_reproducible_for_any_window(world):
    """generate() on a window that does not continue the last one starts a fresh generator."""
    from sandbox.runner import InProcessTarget, generator_for

    server = world[0]
    target = InProcessTarget(server.endpoint)
    first = generator_for(target, seed=99, start=0)
    batch_a = first.slice(int(START.timestamp()))
    again = generator_for(target, seed=99, start=int(START.timestamp()))
    assert again is not first
    assert again.slice(int(START.timestamp())).ledger == batch_a.ledger
    assert generator_for(target, seed=99, start=int(START.timestamp()) + 60) is again  # continuation
