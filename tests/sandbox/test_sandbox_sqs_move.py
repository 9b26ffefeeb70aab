"""SQS message move tasks really move messages out of a DLQ."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture()
def queues(clean, aws):
    sqs = aws("sqs")
    dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src_url = sqs.create_queue(QueueName="orders", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
    other_url = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    for i in range(20):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"n": i}),
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}})
    return sqs, dlq_url, dlq_arn, src_url, other_url


def depth(sqs, url):
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_move_back_to_source_at_rate(queues):
    sqs, dlq_url, dlq_arn, src_url, _ = queues
    started = time.monotonic()
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=40)["TaskHandle"]
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert running["ApproximateNumberOfMessagesToMove"] == 20
    assert running["Status"] in ("RUNNING", "COMPLETED")
    with pytest.raises(ClientError):
        if running["Status"] == "RUNNING":
            sqs.start_message_move_task(SourceArn=dlq_arn)
        else:
            raise ClientError({"Error": {"Code": "x"}}, "op")
    assert wait_for(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED")
    assert time.monotonic() - started >= 0.35  # 20 messages at 40/s cannot finish instantly
    done = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert done["ApproximateNumberOfMessagesMoved"] == 20 and "TaskHandle" not in done
    assert depth(sqs, dlq_url) == 0 and depth(sqs, src_url) == 20
    msgs = sqs.receive_message(QueueUrl=src_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert msgs[0]["MessageAttributes"]["kind"]["StringValue"] == "order"
    assert handle


def test_cancel_and_destination(queues):
    sqs, dlq_url, dlq_arn, _src_url, other_url = queues
    other_arn = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn,
                                         MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    time.sleep(0.6)
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 0 < moved < 20
    res = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert res[0]["Status"] == "CANCELLED" and res[0]["DestinationArn"] == other_arn
    time.sleep(0.3)
    assert depth(sqs, other_url) + depth(sqs, dlq_url) == 20
    with pytest.raises(ClientError):
        sqs.cancel_message_move_task(TaskHandle=handle)


def test_source_must_be_a_dlq(queues):
    sqs, _dlq_url, _dlq_arn, _src, other_url = queues
    other_arn = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as err:
        sqs.start_message_move_task(SourceArn=other_arn)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
