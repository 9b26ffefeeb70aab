"""Fault injection answers with errors boto3 parses like real AWS errors."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.estate import STAGING_ACCOUNT_ID
from sandbox.testing import add_fault, clear_faults
from tests.clock import hours_ago

T0 = hours_ago(2)


@pytest.fixture()
def faults(clean):
    yield clean
    clear_faults(clean)


def expect(call, code, status):
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize("service,operation,error,status,call", [
    ("lambda", "ListFunctions", "TooManyRequestsException", 429, lambda c: c("lambda").list_functions()),
    ("cloudwatch", "GetMetricData", "Throttling", 400, lambda c: c("cloudwatch").get_metric_data(
        StartTime=T0, EndTime=T0 + timedelta(hours=1), MetricDataQueries=[{"Id": "a", "Expression": "1"}])),
    ("sqs", "ListQueues", "AWS.SimpleQueueService.RequestThrottled", 400, lambda c: c("sqs").list_queues()),
    ("logs", "DescribeLogGroups", "ThrottlingException", 400, lambda c: c("logs").describe_log_groups()),
    ("xray", "GetTraceSummaries", "ThrottledException", 429, lambda c: c("xray").get_trace_summaries(
        StartTime=T0, EndTime=T0 + timedelta(hours=1))),
    ("sts", "GetCallerIdentity", "Throttling", 400, lambda c: c("sts").get_caller_identity()),
    ("lambda", "*", "InternalFailure", 500, lambda c: c("lambda").list_functions()),
    ("cloudwatch", "*", "InternalServiceError", 500, lambda c: c("cloudwatch").list_metrics()),
])
def test_error_shapes(faults, aws, service, operation, error, status, call):
    add_fault(faults, service=service, operation=operation, error=error, count=1)
    expect(lambda: call(aws), error, status)
    call(aws)  # count=1: the next call goes through


def test_access_denied_for_one_account_only(faults, aws):
    add_fault(faults, service="lambda", error="AccessDeniedException", account=STAGING_ACCOUNT_ID)
    aws("lambda").list_functions()
    expect(lambda: aws("lambda", account=STAGING_ACCOUNT_ID).list_functions(), "AccessDeniedException", 403)
    clear_faults(faults)
    aws("lambda", account=STAGING_ACCOUNT_ID).list_functions()


def test_rate_and_delay(faults, aws):
    add_fault(faults, service="sqs", operation="ListQueues", error=None, delay_ms=300)
    started = time.monotonic()
    aws("sqs").list_queues()
    assert time.monotonic() - started >= 0.3
    clear_faults(faults)
    add_fault(faults, service="sqs", error="AWS.SimpleQueueService.RequestThrottled", rate=0.5)
    failures = 0
    for _ in range(40):
        try:
            aws("sqs").list_queues()
        except ClientError:
            failures += 1
    assert 5 < failures < 35
