"""The DLQ poller against the sandbox over HTTP: depth, a peek that hands everything back, the
three shapes, hostile bodies, gone detection and arrivals."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import replace

import boto3
import pytest
from botocore.config import Config

from ops.models import DlqMessage, DlqSnapshot, FunctionQueue, PollStatus, Queue
from ops.pollers.base import poll_run
from ops.pollers.dlq import dlq_poll
from sandbox.estate import FunctionSpec
from sandbox import payloads
from tests.factories import AccountFactory, FunctionFactory

pytestmark = pytest.mark.django_db
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FAST = Config(retries={"max_attempts": 1})


def _sqs():
    return boto3.client("sqs", region_name=REGION, config=FAST)


def _queue(aws, name: str, role: str = "lambda_dlq", **attrs) -> tuple[Queue, str]:
    """An SQS queue in the sandbox and the inventory's rows for it (a function's DLQ)."""
    sqs = _sqs()
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    account = AccountFactory(name="prod", account_id=ACCOUNT_ID)
    fn = FunctionFactory(account=account, name=f"fn-{name.replace('.', '-')}")
    queue = Queue.objects.create(account=account, region=REGION, arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                                 url=url, name=name, fifo=name.endswith(".fifo"), last_seen=fn.last_seen)
    FunctionQueue.objects.create(function=fn, queue=queue, role=role)
    return queue, url


def _poll(queue: Queue):
    return poll_run(source="dlq", account=queue.account, region=REGION, work=dlq_poll)


def _counts(url: str) -> tuple[int, int]:
    a = _sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def _send(url: str, n: int, **kw) -> list[str]:
    sqs = _sqs()
    return [sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i, "detail": {"orderId": i}}), **kw)["MessageId"]
            for i in range(n)]


def test_a_peek_stores_every_message_and_hands_them_all_back(aws):
    queue, url = _queue(aws, "orders-dlq")
    ids = _send(url, 25)
    outcome = _poll(queue)
    assert outcome.ok and outcome.items == 1
    assert _counts(url) == (25, 0)  # visible again at once, nothing left in flight
    stored = {m.message_id: m for m in DlqMessage.objects.filter(queue=queue)}
    assert set(stored) == set(ids)
    m = stored[ids[3]]
    assert m.body_json == {"n": 3, "detail": {"orderId": 3}} and m.receive_count == 1 and m.sent_at is not None
    assert m.first_seen_at == m.last_seen_at and m.gone_at is None
    queue.refresh_from_db()
    assert (queue.depth_visible, queue.depth_in_flight, queue.depth_delayed) == (25, 0, 0)
    assert queue.peek_complete and queue.peek_seen == 25 and queue.oldest_sent_at is not None
    snap = DlqSnapshot.objects.get(queue=queue)
    assert (snap.visible, snap.seen, snap.arrivals, snap.gone, snap.complete) == (25, 25, 25, 0, True)
    # a second peek: same rows, receive counts up by one (a peek is a receive), no new arrivals
    _poll(queue)
    assert DlqMessage.objects.filter(queue=queue).count() == 25
    assert DlqMessage.objects.get(message_id=ids[3]).receive_count == 2
    assert DlqSnapshot.objects.order_by("-at").first().arrivals == 0


def test_a_peek_with_a_live_consumer_leaves_the_counts_as_they_were(aws):
    """A consumer thread receives and deletes from the same queue while the poller peeks: after
    the peek, within a second, nothing is left in flight and every message is either still in the
    queue or was consumed — none stolen, none lost."""
    queue, url = _queue(aws, "busy-dlq")
    ids = _send(url, 60)
    consumed: list[str] = []
    stop = threading.Event()

    def consumer():
        sqs = _sqs()
        while not stop.is_set():
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30).get("Messages", [])
            for m in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                consumed.append(m["MessageId"])
            time.sleep(0.05)

    t = threading.Thread(target=consumer, daemon=True)
    t.start()
    try:
        assert _poll(queue).ok
    finally:
        stop.set()
        t.join(timeout=5)
    deadline = time.monotonic() + 1.0
    while True:
        visible, in_flight = _counts(url)
        if in_flight == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert in_flight == 0
    assert visible + len(consumed) == len(ids)
    left = {m["MessageId"] for m in _drain(url)}
    assert left | set(consumed) == set(ids) and not left & set(consumed)


def _drain(url: str) -> list[dict]:
    sqs, out = _sqs(), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not got:
            return out
        out += got


def test_gone_is_marked_only_by_a_complete_peek_and_arrivals_count_ids_not_depth(aws, settings):
    queue, url = _queue(aws, "drained-dlq")
    first = _send(url, 3)
    _poll(queue)
    # drained and refilled between two polls: the depth stays 3, yet 3 arrived and 3 went
    sqs = _sqs()
    for m in _drain(url):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    second = _send(url, 3)
    _poll(queue)
    snap = DlqSnapshot.objects.order_by("-at").first()
    assert (snap.visible, snap.arrivals, snap.gone) == (3, 3, 3)
    assert set(DlqMessage.objects.filter(queue=queue, gone_at=None).values_list("message_id", flat=True)) == set(second)
    assert DlqMessage.objects.filter(message_id__in=first, gone_at__isnull=False).count() == 3
    # an incomplete peek (budget smaller than the depth) marks nothing gone
    settings.DLQ_PEEK_MAX_MESSAGES = 2
    for m in _drain(url):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    _send(url, 5)
    _poll(queue)
    queue.refresh_from_db()
    assert not queue.peek_complete and "partial peek: saw 2 of 5" in queue.peek_note
    assert DlqMessage.objects.filter(message_id__in=second, gone_at=None).count() == 3
    assert _counts(url) == (5, 0)


def test_the_three_shapes_are_parsed(aws):
    spec = FunctionSpec("mailer", ACCOUNT_ID, REGION, "python3.12", 256, 30, "x86_64", "async", dlq="mailer-dlq")
    import random

    rng = random.Random(7)
    event = payloads.async_event(spec, "rid-1", time.time(), rng)
    # Lambda async DLQ: the event, the error in attributes
    dlq, dlq_url = _queue(aws, "mailer-dlq", "lambda_dlq")
    body = json.dumps(event)
    attrs = {"RequestID": {"DataType": "String", "StringValue": "6c7e0000-0000-4000-8000-000000000001"},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"},
             "ErrorMessage": {"DataType": "String", "StringValue": "KeyError: 'id'"}}
    _sqs().send_message(QueueUrl=dlq_url, MessageBody=body, MessageAttributes=attrs)
    # on-failure destination: an invocation record
    dest, dest_url = _queue(aws, "mailer-failures", "on_failure")
    _sqs().send_message(QueueUrl=dest_url, MessageBody=payloads.destination_record(spec, "rid-2", "3", time.time(), event, False))
    # a stream's on-failure record: shard positions, no payload
    stream_record = {"version": "1.0", "timestamp": "2026-01-01T00:00:00.000Z",
                     "requestContext": {"requestId": "rid-3", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ingest",
                                        "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
                     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                     "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "4959",
                                          "endSequenceNumber": "4960", "batchSize": 100,
                                          "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"}}
    _sqs().send_message(QueueUrl=dest_url, MessageBody=json.dumps(stream_record))
    # an event-source queue's DLQ: the original message
    src, src_url = _queue(aws, "orders-dlq", "source_dlq")
    _sqs().send_message(QueueUrl=src_url, MessageBody='{"order_id": 1042}')
    for q in (dlq, dest, src):
        _poll(q)

    a = DlqMessage.objects.get(queue=dlq)
    assert (a.shape, a.request_id, a.error_code, a.error_type) == ("async_event", "6c7e0000-0000-4000-8000-000000000001", "200", "KeyError")
    assert a.body_json == event and a.replayable
    assert a.message_attributes["ErrorMessage"] == {"type": "String", "value": "KeyError: 'id'"}
    r = DlqMessage.objects.get(queue=dest, request_id="rid-2")
    assert (r.shape, r.condition, r.approximate_invoke_count, r.error_type) == ("invocation_record", "RetriesExhausted", 3, "KeyError")
    assert r.function_arn.endswith(":function:mailer:3") and r.replayable
    assert r.group_signature == a.group_signature  # the same error, one group, whatever the shape
    s = DlqMessage.objects.get(queue=dest, request_id="rid-3")
    assert (s.shape, s.replayable, s.condition) == ("stream_record", False, "RetryAttemptsExhausted")
    m = DlqMessage.objects.get(queue=src)
    assert (m.shape, m.error_type, m.body_json) == ("source_message", "", {"order_id": 1042})


def test_hostile_bodies_and_binary_attributes_are_kept_exactly(aws):
    queue, url = _queue(aws, "hostile-dlq")
    sqs = _sqs()
    big = ("x" * (256 * 1024 - 20) + '"closing quote').encode()
    assert len(big) > 256 * 1024 - 10
    blob = bytes(range(0, 256, 7))
    sent = {
        "big": sqs.send_message(QueueUrl=url, MessageBody=big.decode())["MessageId"],
        "broken": sqs.send_message(QueueUrl=url, MessageBody='{"order_id": 1042, "items": [')["MessageId"],
        "ctrl": sqs.send_message(QueueUrl=url, MessageBody='{"note": "raw \x01 \x1b[31m"}')["MessageId"],
        "nul": sqs.send_message(QueueUrl=url, MessageBody='{"a": "\x00"}')["MessageId"],
        "unicode": sqs.send_message(QueueUrl=url, MessageBody='{"name": "Zoë 🚀 ユーザー"}')["MessageId"],
        "binary": sqs.send_message(QueueUrl=url, MessageBody="{}", MessageAttributes={
            "payload": {"DataType": "Binary", "BinaryValue": blob},
            "note": {"DataType": "String", "StringValue": "plain"}})["MessageId"],
    }
    assert _poll(queue).ok
    got = {k: DlqMessage.objects.get(message_id=v) for k, v in sent.items()}
    assert bytes(got["big"].body) == big and got["big"].body_size == len(big) and got["big"].body_json is None
    assert bytes(got["broken"].body) == b'{"order_id": 1042, "items": [' and got["broken"].body_json is None
    assert got["broken"].body_text == '{"order_id": 1042, "items": ['
    assert got["ctrl"].body_json == {"note": "raw \x01 \x1b[31m"}
    # NUL: exact bytes kept; jsonb and text cannot hold it, so the JSON is not parsed and text shows U+FFFD
    assert bytes(got["nul"].body) == b'{"a": "\x00"}' and got["nul"].body_json is None and "\ufffd" in got["nul"].body_text
    assert got["unicode"].body_json == {"name": "Zoë 🚀 ユーザー"}
    attrs = got["binary"].message_attributes
    assert attrs["payload"] == {"type": "Binary", "base64": base64.b64encode(blob).decode()}
    assert attrs["note"] == {"type": "String", "value": "plain"}
    assert _counts(url) == (6, 0)


def test_json_postgres_cannot_hold_is_kept_as_bytes_and_the_poll_goes_on(aws):
    # A lone surrogate (in a value or a key) or a NUL escaped anywhere parses in Python but jsonb
    # refuses it: such a body is stored as bytes, not JSON, and the valid message beside it is stored too.
    queue, url = _queue(aws, "a-surrogate-dlq")
    other, other_url = _queue(aws, "b-after-dlq")
    sqs = _sqs()
    bodies = {
        "value": '{"a": "\\ud800"}',
        "key": '{"\\udfff": 1}',
        "nested_nul": '{"requestContext": {"requestId": "r-1\\u0000"}, "responsePayload": {"errorMessage": "x"}, '
                      '"requestPayload": {}}',
        "valid": '{"ok": "\\ud83d\\ude80"}',
    }
    sent = {k: sqs.send_message(QueueUrl=url, MessageBody=v)["MessageId"] for k, v in bodies.items()}
    (after,) = _send(other_url, 1)
    outcome = _poll(queue)
    assert outcome.ok and outcome.items == 2 and outcome.warnings == ()
    got = {k: DlqMessage.objects.get(message_id=v) for k, v in sent.items()}
    for k in ("value", "key", "nested_nul"):
        assert bytes(got[k].body) == bodies[k].encode() and got[k].body_json is None
        assert got[k].body_text == bodies[k]  # the escapes are plain text: searchable as written
    assert got["nested_nul"].request_id == ""  # not read as an invocation record: not JSON
    assert got["valid"].body_json == {"ok": "🚀"}
    assert DlqMessage.objects.filter(queue=other, message_id=after).exists()
    queue.refresh_from_db()
    other.refresh_from_db()
    assert queue.dlq_error == "" and queue.depth_visible == 4 and other.depth_visible == 1


def test_strings_for_text_columns_lose_only_what_postgres_refuses():
    from ops.pollers.dlq.parse import clean_text

    assert clean_text("Err\x00or \ud800 🚀") == "Err\ufffdor \ufffd 🚀"
    assert clean_text(None) == "" and clean_text(412) == "412" and clean_text("Zoë") == "Zoë"


def test_messages_the_database_refuses_fail_only_their_queue_and_the_reason_quotes_no_body(aws, monkeypatch):
    from ops.pollers.dlq import poll as dlq_poll_module
    from ops.pollers.dlq.parse import message_parse

    def poisoned(**kw):
        # what parse.py would let through if it missed a value jsonb refuses
        p = message_parse(**kw)
        return replace(p, body_json={"secret": "card 4111\x00"}) if b"card" in kw["body"] else p

    monkeypatch.setattr(dlq_poll_module, "message_parse", poisoned)
    queue, url = _queue(aws, "a-refused-dlq")
    other, other_url = _queue(aws, "b-after-refused-dlq")
    _sqs().send_message(QueueUrl=url, MessageBody='{"secret": "card 4111"}')
    _send(url, 1)
    (after,) = _send(other_url, 1)
    outcome = _poll(queue)
    assert outcome.ok and outcome.items == 1
    queue.refresh_from_db()
    assert queue.dlq_error.startswith("the database refused this poll's messages (DataError")
    assert "4111" not in queue.dlq_error
    assert not DlqMessage.objects.filter(queue=queue).exists() and not DlqSnapshot.objects.filter(queue=queue).exists()
    status = PollStatus.objects.get(source="dlq")
    assert status.last_shortfall.startswith("DLQ a-refused-dlq: the database refused")
    assert "4111" not in status.last_shortfall and "4111" not in status.last_error_message
    assert DlqMessage.objects.filter(queue=other, message_id=after).exists()  # the next DLQ was polled
    assert _counts(url) == (2, 0)


def test_a_deleted_queue_is_a_clear_poll_error_and_keeps_its_messages(aws):
    queue, url = _queue(aws, "doomed-dlq")
    _send(url, 2)
    _poll(queue)
    _sqs().delete_queue(QueueUrl=url)
    outcome = _poll(queue)
    assert not outcome.ok  # its only AWS call failed: the run failed, and says why
    queue.refresh_from_db()
    assert queue.dlq_error.startswith("the queue no longer exists in AWS")
    status = PollStatus.objects.get(source="dlq")
    assert "NonExistentQueue" in status.last_error_code or "QueueDoesNotExist" in status.last_error_code
    assert DlqMessage.objects.filter(queue=queue, gone_at=None).count() == 2  # nothing lost


def test_a_fifo_queue_is_peeked_when_idle_and_skipped_while_a_consumer_holds_messages(aws):
    queue, url = _queue(aws, "orders-dlq.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sqs = _sqs()
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"i": i}), MessageGroupId=f"g{i % 2}")
    _poll(queue)
    queue.refresh_from_db()
    assert DlqMessage.objects.filter(queue=queue).count() >= 2
    assert "FIFO: the peek held each message group" in queue.peek_note
    assert _counts(url) == (4, 0)
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    assert held
    _poll(queue)
    queue.refresh_from_db()
    assert "a consumer is active" in queue.peek_note
    assert DlqSnapshot.objects.order_by("-at").first().seen == 0


def test_retention_drops_old_snapshots_and_long_gone_messages_never_present_ones(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    from ops.pollers.rollup import retention_apply
    from tests.factories import DlqMessageFactory, DlqSnapshotFactory, QueueFactory

    now = timezone.now()
    q = QueueFactory()
    old_snap = DlqSnapshotFactory(queue=q, at=now - timedelta(days=settings.MINUTE_RETENTION_DAYS + 1))
    new_snap = DlqSnapshotFactory(queue=q, at=now - timedelta(days=1))
    long_gone = DlqMessageFactory(queue=q, gone_at=now - timedelta(days=settings.DLQ_GONE_RETENTION_DAYS + 1))
    recently_gone = DlqMessageFactory(queue=q, gone_at=now - timedelta(days=1))
    old_present = DlqMessageFactory(queue=q, sent_at=now - timedelta(days=60))
    out = retention_apply(now=now)
    assert out["ops_dlqsnapshot"] == 1 and out["ops_dlqmessage"] == 1
    assert set(DlqSnapshot.objects.values_list("pk", flat=True)) == {new_snap.pk} and old_snap.pk
    assert set(DlqMessage.objects.values_list("pk", flat=True)) == {recently_gone.pk, old_present.pk}
    assert long_gone.pk
