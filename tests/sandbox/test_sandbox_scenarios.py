"""Scenarios change what the APIs show, consistently with the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox_aws import make_client
from tests.clock import hours_ago
from sandbox.estate import PROD_ACCOUNT_ID
from sandbox.testing import generate, ledger, ledger_totals, seed_estate, set_scenario

# windows 0-8 are half an hour apart and each lasts at most 10 minutes: all in the past
BASE = hours_ago(6)


@pytest.fixture(scope="module")
def seeded(server):
    server.reset()
    seed_estate(server, small=True)
    yield server
    set_scenario(server, "steady")


def window(i):
    return BASE + timedelta(minutes=30 * i)


def metric(server, name, dims, start, minutes, stat="Sum", region="us-east-1", ns="AWS/Lambda"):
    cw = make_client(server.endpoint, "cloudwatch", region=region)
    res = cw.get_metric_data(StartTime=start, EndTime=start + timedelta(minutes=minutes), MetricDataQueries=[{
        "Id": "m", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name,
                                             "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                                  "Period": 60, "Stat": stat}}])
    return res["MetricDataResults"][0]["Values"]


def test_deploy_regression_moves_alias_and_errors_jump(seeded):
    start = window(0)
    generate(seeded, start=start, minutes=10, scenario="steady", seed=3)
    sc = set_scenario(seeded, "deploy-regression", function="orders-api", account=PROD_ACCOUNT_ID)
    new = sc["version"]
    lam = make_client(seeded.endpoint, "lambda")
    alias = lam.get_alias(FunctionName="orders-api", Name="live")
    assert alias["FunctionVersion"] == new and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    after = start + timedelta(minutes=10)
    generate(seeded, start=after, minutes=5, seed=3)
    rows = ledger(seeded, function="orders-api", account=PROD_ACCOUNT_ID, start=after,
                  end=after + timedelta(minutes=5), by_version=True)
    assert {r["version"] for r in rows} == {new}
    inv, err = sum(r["invocations"] for r in rows), sum(r["errors"] for r in rows)
    assert err / inv > 0.2
    before = ledger_totals(seeded, function="orders-api", account=PROD_ACCOUNT_ID, start=start, end=after)
    assert before["errors"] / before["invocations"] < 0.1
    dims = {"FunctionName": "orders-api", "Resource": "orders-api:live", "ExecutedVersion": new}
    assert sum(metric(seeded, "Errors", dims, after, 5)) == err
    # the product rolls back: traffic follows the alias, errors drop
    lam.update_alias(FunctionName="orders-api", Name="live", FunctionVersion=sc["previous_version"])
    later = after + timedelta(minutes=5)
    generate(seeded, start=later, minutes=5, seed=3)
    rows = ledger(seeded, function="orders-api", account=PROD_ACCOUNT_ID, start=later, by_version=True)
    assert {r["version"] for r in rows} == {sc["previous_version"]}


def test_throttling(seeded):
    start = window(1)
    sc = set_scenario(seeded, "throttling", function="payments-worker")
    assert make_client(seeded.endpoint, "lambda").get_function_concurrency(
        FunctionName="payments-worker")["ReservedConcurrentExecutions"] == 1
    generate(seeded, start=start, minutes=10, seed=3)
    truth = ledger_totals(seeded, function="payments-worker", start=start, end=start + timedelta(minutes=10))
    assert truth["throttles"] > 0
    assert sum(metric(seeded, "Throttles", {"FunctionName": "payments-worker"}, start, 10)) == truth["throttles"]
    assert sum(metric(seeded, "Invocations", {"FunctionName": "payments-worker"}, start, 10)) == truth["invocations"]
    set_scenario(seeded, "steady")
    assert make_client(seeded.endpoint, "lambda").get_function_concurrency(
        FunctionName="payments-worker")["ReservedConcurrentExecutions"] == 20
    assert sc["function"] == "payments-worker"


def test_dlq_flood(seeded):
    start = window(2)
    sqs = make_client(seeded.endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="payments-dlq")["QueueUrl"]
    depth = lambda: int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[  # noqa: E731
        "Attributes"]["ApproximateNumberOfMessages"])
    before = depth()
    generate(seeded, start=start, minutes=5, scenario="dlq-flood", seed=3)
    sent = ledger_totals(seeded, function="payments-worker", start=start, end=start + timedelta(minutes=5))
    assert sent["dlq_messages_sent"] > 20
    assert depth() - before == sent["dlq_messages_sent"]
    assert max(metric(seeded, "ApproximateNumberOfMessagesVisible", {"QueueName": "payments-dlq"}, start, 5,
                      stat="Maximum", ns="AWS/SQS")) >= depth() - 1


def test_cold_start_storm_and_timeouts(seeded):
    start = window(3)
    generate(seeded, start=start, minutes=5, scenario="cold-start-storm", seed=3)
    storm = ledger_totals(seeded, function="orders-api", account=PROD_ACCOUNT_ID, start=start,
                          end=start + timedelta(minutes=5))
    assert storm["cold_starts"] / storm["invocations"] > 0.3
    start = window(4)
    generate(seeded, start=start, minutes=5, scenario="timeouts", seed=3)
    t = ledger_totals(seeded, function="orders-api", account=PROD_ACCOUNT_ID, start=start,
                      end=start + timedelta(minutes=5))
    assert t["timeouts"] > 0 and t["errors"] >= t["timeouts"]
    logs = make_client(seeded.endpoint, "logs")
    hits = logs.filter_log_events(logGroupName="/aws/lambda/orders-api", filterPattern='"Task timed out"',
                                  startTime=int(start.timestamp() * 1000),
                                  endTime=int((start + timedelta(minutes=5, seconds=15)).timestamp() * 1000))["events"]
    assert len(hits) == t["timeouts"]
    p99 = metric(seeded, "Duration", {"FunctionName": "orders-api"}, start, 5, stat="Maximum")
    assert max(p99) >= 10_000


def test_stream_lag(seeded):
    start = window(5)
    generate(seeded, start=start, minutes=10, scenario="stream-lag", seed=3)
    ages = metric(seeded, "IteratorAge", {"FunctionName": "clickstream-ingest"}, start, 10, stat="Maximum",
                  region="eu-west-1")
    assert len(ages) >= 8 and ages[0] > ages[-1] > 60_000  # descending scan: newest first, growing


def test_over_http_from_another_process(seeded):
    """The same generator driven over HTTP (as `python -m sandbox run` does against `serve`)."""
    import json
    import urllib.error
    import urllib.request

    from sandbox.runner import HttpTarget

    set_scenario(seeded, "steady")
    start = window(6)
    sqs = make_client(seeded.endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="payments-dlq")["QueueUrl"]

    def depth():
        return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])

    before = depth()
    generate(HttpTarget(seeded.endpoint), start=start, minutes=10, scenario="dlq-flood", seed=11)
    truth = ledger_totals(seeded.endpoint, function="payments-worker", start=start, end=start + timedelta(minutes=10))
    assert depth() - before == truth["dlq_messages_sent"] > 0
    logs = make_client(seeded.endpoint, "logs")
    reports = logs.filter_log_events(logGroupName="/aws/lambda/payments-worker", filterPattern="REPORT",
                                     startTime=int(start.timestamp() * 1000),
                                     endTime=int((start + timedelta(minutes=10, seconds=60)).timestamp() * 1000))
    assert len(reports["events"]) == truth["invocations"]
    req = urllib.request.Request(f"{seeded.endpoint}/_sandbox/scenario", data=json.dumps({"name": "nope"}).encode(),
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400


def test_dlq_payloads_include_hostile_messages(seeded):
    import json

    generate(seeded, start=window(8), minutes=10, scenario="dlq-flood", seed=13)
    set_scenario(seeded, "steady")
    sqs = make_client(seeded.endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="payments-dlq")["QueueUrl"]
    bodies, binary = [], 0
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                   MessageAttributeNames=["All"]).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            bodies.append(m["Body"])
            binary += any(a["DataType"] == "Binary" for a in m.get("MessageAttributes", {}).values())
    invalid = 0
    for b in bodies:
        try:
            json.loads(b)
        except ValueError:
            invalid += 1
    assert len(bodies) > 100
    assert invalid > 0
    assert any(any(ord(c) < 32 and c not in "\t\n\r" for c in b) for b in bodies)
    assert binary > 0


def test_dlq_depth_metric_follows_the_queue_minute_by_minute(seeded):
    """Depth per minute is the depth at that minute's end (not the end of a generated chunk)."""
    start = window(7)
    generate(seeded, start=start, minutes=6, scenario="dlq-flood", seed=5)
    rows = ledger(seeded, function="payments-worker", start=start, end=start + timedelta(minutes=6))
    per_minute = [r["dlq_messages_sent"] for r in rows]
    depth = metric(seeded, "ApproximateNumberOfMessagesVisible", {"QueueName": "payments-dlq"}, start, 6,
                   stat="Maximum", ns="AWS/SQS")[::-1]  # ascending
    sent = metric(seeded, "NumberOfMessagesSent", {"QueueName": "payments-dlq"}, start, 6, ns="AWS/SQS")[::-1]
    assert sent == per_minute
    assert [b - a for a, b in zip(depth, depth[1:])] == per_minute[1:]
    ages = metric(seeded, "ApproximateAgeOfOldestMessage", {"QueueName": "payments-dlq"}, start, 6,
                  stat="Maximum", ns="AWS/SQS")
    assert all(a > 0 for a in ages)
    set_scenario(seeded, "steady")


def test_scenario_changes_are_in_cloudtrail_with_their_actor(seeded):
    import json

    from sandbox.testing import cloudtrail_delay

    cloudtrail_delay(seeded, 0)
    sc = set_scenario(seeded, "deploy-regression", function="orders-api", account=PROD_ACCOUNT_ID)
    ct = make_client(seeded.endpoint, "cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateAlias20150331"}])
    record = json.loads(events["Events"][0]["CloudTrailEvent"])
    assert record["requestParameters"]["functionVersion"] == sc["version"]
    assert record["userAgent"].startswith("codedeploy.amazonaws.com")
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == "CodeDeployServiceRole"
    published = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PublishVersion20150331"}])
    record = json.loads(published["Events"][0]["CloudTrailEvent"])
    assert record["userIdentity"]["arn"].endswith("assumed-role/deploy-bot/ci-build-1042")
    assert record["userAgent"].startswith("aws-cli/")
