"""The product's redrive loop against the sandbox: every message ends in exactly one known state,
and none leaves the DLQ without a successful re-delivery."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ops.actions.redrive.items import REASON_STREAM
from ops.actions.redrive.loop import REASON_CANCELLED, REASON_GONE, dedup_id
from ops.actions.runner import job_run
from ops.models import DlqMessageShape, Job, JobStatus, QueueRole, RedriveItem, RedriveItemState, Role
from ops.selectors.redrive import RedriveSelection
from ops.services.redrive import dlq_delete_request, dlq_redrive_request
from sandbox.testing import add_fault, async_invocations, clear_faults
from tests.factories import make_user
from tests.ops.actions.redrive.helpers import drain, make_dlq, put_messages, signature, sqs_client, states

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast(settings):
    settings.REDRIVE_RATE_PER_SECOND = 100_000
    settings.REDRIVE_VISIBILITY_SECONDS = 2
    return settings


def _redrive(dlq, selection=RedriveSelection(), **kw) -> Job:
    result = dlq_redrive_request(queue=dlq.queue, selection=selection, user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key=kw.pop("key", "k" * 16), **kw)
    assert result.created
    job_run(job_id=result.job.pk)
    result.job.refresh_from_db()
    return result.job


def _bodies(messages: list[dict]) -> list[str]:
    return sorted(m["Body"] for m in messages)


def test_a_thousand_messages_with_send_failures_every_id_accounted_for_and_none_deleted_undelivered(aws, fast, no_enqueue):
    fast.REDRIVE_SEND_ATTEMPTS = 2
    dlq = make_dlq()
    ids = put_messages(dlq, [{"n": i} for i in range(1000)])
    body_of = {i: dlq.messages[i].body_text for i in ids}
    add_fault(aws, service="sqs", operation="SendMessageBatch", error="ServiceUnavailable", rate=0.3)
    try:
        job = _redrive(dlq)
    finally:
        clear_faults(aws)
    by_state = states(job)
    assert set(by_state) == set(ids)  # every message id has exactly one item
    redriven = {i for i, s in by_state.items() if s == RedriveItemState.REDRIVEN}
    failed = {i for i, s in by_state.items() if s == RedriveItemState.FAILED}
    assert redriven and failed and redriven | failed == set(ids)
    # the redriven ones are in the source queue (each once), the failed ones still in the DLQ
    assert _bodies(drain(dlq.source_url)) == sorted(body_of[i] for i in redriven)
    left_in_dlq = drain(dlq.url)
    assert sorted(m["MessageId"] for m in left_in_dlq) == sorted(failed)
    assert job.status == JobStatus.SUCCEEDED
    assert (job.progress_total, job.progress_done, job.progress_failed) == (1000, 1000, len(failed))
    reasons = set(RedriveItem.objects.filter(job=job, state=RedriveItemState.FAILED).values_list("reason", flat=True))
    assert reasons == {"SendMessageBatch failed: ServiceUnavailable: Rate exceeded (after 2 tries)"}
    assert job.result["counts"]["redriven"] == len(redriven)


def test_a_filtered_redrive_moves_exactly_the_chosen_error_group_in_the_window(aws, fast, no_enqueue):
    dlq = make_dlq()
    now = timezone.now()
    wanted = put_messages(dlq, [{"order": i} for i in range(12)], error="KeyError: 'id'", sent_at=now - timedelta(minutes=20))
    early = put_messages(dlq, [{"early": i} for i in range(5)], error="KeyError: 'id'", sent_at=now - timedelta(hours=3))
    other = put_messages(dlq, [{"other": i} for i in range(7)], error="TimeoutError", sent_at=now - timedelta(minutes=20))
    job = _redrive(dlq, RedriveSelection(group=signature("KeyError: 'id'"), since=now - timedelta(minutes=30),
                                         until=now - timedelta(minutes=10)))
    assert states(job) == {i: RedriveItemState.REDRIVEN for i in wanted}
    assert _bodies(drain(dlq.source_url)) == sorted(json.dumps({"order": i}) for i in range(12))
    assert sorted(m["MessageId"] for m in drain(dlq.url)) == sorted(early + other)


def test_bodies_and_attributes_go_back_exactly_non_json_binary_and_256_kib(aws, fast, no_enqueue):
    dlq = make_dlq()
    big = "x" * 262_144
    attrs = {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffraw"}, "kind": {"DataType": "String", "StringValue": "retry"},
             "n": {"DataType": "Number", "StringValue": "42"}}
    put_messages(dlq, ["not json {", big, big, "ünïcode ✓"], attributes=attrs)
    job = _redrive(dlq)
    assert set(states(job).values()) == {RedriveItemState.REDRIVEN}
    back = drain(dlq.source_url)
    assert _bodies(back) == sorted(["not json {", big, big, "ünïcode ✓"])
    for m in back:
        assert m["MessageAttributes"] == attrs
    assert drain(dlq.url) == []


def test_a_fifo_dlq_goes_back_in_order_with_its_group(aws, fast, no_enqueue):
    dlq = make_dlq(name="pay-dlq", fifo=True)
    put_messages(dlq, [f"m{i}" for i in range(15)], fifo_group="customer-7")
    job = _redrive(dlq)
    assert set(states(job).values()) == {RedriveItemState.REDRIVEN}
    back = drain(dlq.source_url)
    assert [m["Body"] for m in back] == [f"m{i}" for i in range(15)]
    assert {m["Attributes"]["MessageGroupId"] for m in back} == {"customer-7"}


def test_a_fifo_redrive_sends_a_deduplication_id_of_its_own_so_sqs_does_not_drop_a_message_seen_minutes_ago(aws, fast, no_enqueue):
    # The messages first went through the source queue with these very deduplication ids (as
    # they do on their way to the DLQ); within SQS's five-minute window a re-send with the same
    # id is answered "success" and dropped, and the loop would delete the only copy.
    dlq = make_dlq(name="ledger-dlq", fifo=True)
    ids = put_messages(dlq, [f"l{i}" for i in range(4)], fifo_group="acct-1")
    c = sqs_client()
    got = c.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"],
                            VisibilityTimeout=0)["Messages"]
    original = {m["MessageId"]: m["Attributes"]["MessageDeduplicationId"] for m in got}
    assert set(original) == set(ids)
    c.send_message_batch(QueueUrl=dlq.source_url, Entries=[
        {"Id": str(n), "MessageBody": m["Body"], "MessageGroupId": "acct-1", "MessageDeduplicationId": original[m["MessageId"]]}
        for n, m in enumerate(got)])
    assert len(drain(dlq.source_url)) == 4  # consumed by the function, then failed into the DLQ
    job = _redrive(dlq)
    assert set(states(job).values()) == {RedriveItemState.REDRIVEN}
    back = drain(dlq.source_url)
    assert sorted(m["Body"] for m in back) == [f"l{i}" for i in range(4)]
    sent = {m["Attributes"]["MessageDeduplicationId"] for m in back}
    assert sent == {dedup_id(job.pk, i) for i in ids} == {f"lops-{job.pk}-{i}" for i in ids}
    assert not sent & set(original.values())


def test_the_deduplication_id_is_stable_for_a_job_and_message_and_within_sqs_limit():
    # Stable: a resumed run re-sending the same message is deduplicated by SQS, not doubled.
    assert dedup_id(41, "m-1") == dedup_id(41, "m-1") == "lops-41-m-1"
    assert dedup_id(41, "m-1") != dedup_id(42, "m-1")
    long_id = dedup_id(41, "x" * 200)
    assert len(long_id) <= 128 and long_id == dedup_id(41, "x" * 200) and long_id.startswith("lops-41-")


def test_a_delete_job_leaves_messages_that_arrived_after_the_request(aws, fast, no_enqueue):
    # The selection is frozen when the job is asked for: a message of the same group stored
    # between the request and the run is not deleted with the ones the operator saw.
    dlq = make_dlq()
    group = signature("KeyError: 'id'")
    seen = put_messages(dlq, [{"n": i} for i in range(5)])
    result = dlq_delete_request(queue=dlq.queue, selection=RedriveSelection(group=group), confirm_name=dlq.queue.name,
                                user=make_user(Role.OPERATOR, "olga"), idempotency_key="frozen-del-123456")
    later = put_messages(dlq, [{"late": i} for i in range(3)])
    job_run(job_id=result.job.pk)
    assert states(result.job) == {i: RedriveItemState.REDRIVEN for i in seen}
    assert sorted(m["MessageId"] for m in drain(dlq.url)) == sorted(later)


def test_async_dlq_messages_are_re_invoked_with_the_original_event(aws, fast, no_enqueue):
    dlq = make_dlq(role=QueueRole.LAMBDA_DLQ, name="payments-dlq")
    events = [{"orderId": i} for i in range(6)]
    put_messages(dlq, events, shape=DlqMessageShape.ASYNC_EVENT)
    job = _redrive(dlq)
    assert set(states(job).values()) == {RedriveItemState.REDRIVEN}
    calls = async_invocations(aws, function="payments")
    assert sorted(json.loads(c["payload"])["orderId"] for c in calls) == list(range(6))
    assert {c["qualifier"] for c in calls} == {""}
    assert drain(dlq.url) == []
    assert all(RedriveItem.objects.filter(job=job).exclude(delivered_as="").values_list("delivered_as", flat=True))


def test_invocation_records_re_invoke_their_request_payload_on_the_named_qualifier_and_stream_records_stay(aws, fast, no_enqueue):
    dlq = make_dlq(role=QueueRole.ON_FAILURE, name="checkout-dlq")
    arn = dlq.function.arn
    records = [{"version": "1.0", "requestContext": {"functionArn": f"{arn}:live", "condition": "RetriesExhausted"},
                "requestPayload": {"cart": i}, "responsePayload": {"errorType": "KeyError"}} for i in range(3)]
    replayable = put_messages(dlq, records, shape=DlqMessageShape.INVOCATION_RECORD)
    stream = put_messages(dlq, [{"requestContext": {}, "DDBStreamBatchInfo": {"shardId": "s-1"}}],
                          shape=DlqMessageShape.STREAM_RECORD, replayable=False)
    job = _redrive(dlq)
    by_state = states(job)
    assert {i: by_state[i] for i in replayable} == {i: RedriveItemState.REDRIVEN for i in replayable}
    item = RedriveItem.objects.get(job=job, message_id=stream[0])
    assert (item.state, item.reason) == (RedriveItemState.LEFT, REASON_STREAM)
    calls = async_invocations(aws, function="checkout")
    assert sorted(json.loads(c["payload"])["cart"] for c in calls) == [0, 1, 2]
    assert {c["qualifier"] for c in calls} == {"live"}
    assert [m["MessageId"] for m in drain(dlq.url)] == stream


def test_invoke_throttled_for_some_messages_those_fail_with_the_reason_and_stay(aws, fast, no_enqueue):
    fast.REDRIVE_SEND_ATTEMPTS = 1
    dlq = make_dlq(role=QueueRole.LAMBDA_DLQ, name="payments-dlq")
    ids = put_messages(dlq, [{"n": i} for i in range(8)], shape=DlqMessageShape.ASYNC_EVENT)
    add_fault(aws, service="lambda", operation="Invoke", error="TooManyRequestsException", count=3)
    try:
        job = _redrive(dlq)
    finally:
        clear_faults(aws)
    failed = set(RedriveItem.objects.filter(job=job, state=RedriveItemState.FAILED).values_list("message_id", flat=True))
    assert len(failed) == 3 and set(states(job)) == set(ids)
    assert {m["MessageId"] for m in drain(dlq.url)} == failed
    assert len(async_invocations(aws, function="payments")) == 5
    assert RedriveItem.objects.filter(job=job, state=RedriveItemState.FAILED).first().reason.startswith(
        "Invoke failed: TooManyRequestsException")


def test_a_message_deleted_by_someone_else_is_left_with_the_reason(aws, fast, no_enqueue):
    dlq = make_dlq()
    ids = put_messages(dlq, [f"m{i}" for i in range(5)])
    c = sqs_client()
    got = c.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=1)["Messages"][0]
    c.delete_message(QueueUrl=dlq.url, ReceiptHandle=got["ReceiptHandle"])
    job = _redrive(dlq)
    gone = RedriveItem.objects.get(job=job, message_id=got["MessageId"])
    assert (gone.state, gone.reason) == (RedriveItemState.LEFT, REASON_GONE)
    assert sum(s == RedriveItemState.REDRIVEN for s in states(job).values()) == 4 and len(states(job)) == len(ids)


def test_the_dlq_deleted_before_the_run_fails_the_job_and_touches_nothing(aws, fast, no_enqueue):
    dlq = make_dlq()
    put_messages(dlq, ["a", "b"])
    result = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key="q" * 16)
    sqs_client().delete_queue(QueueUrl=dlq.url)
    job_run(job_id=result.job.pk)
    job = Job.objects.get(pk=result.job.pk)
    assert job.status == JobStatus.FAILED and "no longer exists" in job.error
    assert drain(dlq.source_url) == []


def test_messages_not_selected_are_handed_back_and_selected_ones_behind_them_are_reached(aws, fast, no_enqueue):
    dlq = make_dlq()
    others = put_messages(dlq, [f"other{i}" for i in range(35)], error="TimeoutError")
    wanted = put_messages(dlq, [f"wanted{i}" for i in range(3)], error="KeyError: 'id'")
    job = _redrive(dlq, RedriveSelection(ids=tuple(wanted)))
    assert states(job) == {i: RedriveItemState.REDRIVEN for i in wanted}
    assert sorted(m["MessageId"] for m in drain(dlq.url)) == sorted(others)  # all visible again at once


def test_a_run_resumed_after_a_crash_between_send_and_delete_deletes_without_sending_twice(aws, fast, no_enqueue):
    from ops.actions.redrive.items import items_prepare
    from ops.actions.runner import JobContext, job_claim

    dlq = make_dlq()
    ids = put_messages(dlq, [f"m{i}" for i in range(4)])
    result = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key="r" * 16)
    job = result.job
    attempt = job_claim(job_id=job.pk)
    job.refresh_from_db()
    items_prepare(JobContext(job, attempt), queue=dlq.queue, selection=RedriveSelection(), delete=False)
    # the lost worker had sent m0 to the source queue and marked it, then died before the delete
    sqs_client().send_message(QueueUrl=dlq.source_url, MessageBody="m0")
    RedriveItem.objects.filter(job=job, message_id=ids[0]).update(state=RedriveItemState.DELIVERED, delivered_as="new-0")
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PENDING)  # what the sweeper does
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert set(states(job).values()) == {RedriveItemState.REDRIVEN}
    assert _bodies(drain(dlq.source_url)) == ["m0", "m1", "m2", "m3"]  # m0 once
    assert drain(dlq.url) == []


def test_cancel_leaves_the_rest_in_the_dlq(aws, fast, no_enqueue):
    dlq = make_dlq()
    ids = put_messages(dlq, ["a", "b", "c"])
    result = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key="c" * 16)
    Job.objects.filter(pk=result.job.pk).update(cancel_requested_at=timezone.now())
    assert job_run(job_id=result.job.pk) == JobStatus.CANCELLED
    items = RedriveItem.objects.filter(job=result.job)
    assert {(i.message_id, i.state, i.reason) for i in items} == {(i, RedriveItemState.LEFT, REASON_CANCELLED) for i in ids}
    assert len(drain(dlq.url)) == 3


def test_delete_selected_messages_deletes_only_those(aws, fast, no_enqueue):
    dlq = make_dlq()
    keep = put_messages(dlq, ["keep1", "keep2"], error="TimeoutError")
    doomed = put_messages(dlq, ["bad1", "bad2", "bad3"], error="KeyError: 'id'")
    result = dlq_delete_request(queue=dlq.queue, selection=RedriveSelection(ids=tuple(doomed)), confirm_name=dlq.queue.name,
                                user=make_user(Role.OPERATOR, "olga"), idempotency_key="d" * 16)
    job_run(job_id=result.job.pk)
    assert states(result.job) == {i: RedriveItemState.REDRIVEN for i in doomed}
    assert sorted(m["MessageId"] for m in drain(dlq.url)) == sorted(keep)
    assert drain(dlq.source_url) == []


def test_single_entries_refused_by_send_message_batch_are_retried_then_failed_and_stay(aws, fast, no_enqueue):
    fast.REDRIVE_SEND_ATTEMPTS = 1
    dlq = make_dlq()
    ids = put_messages(dlq, [f"m{i}" for i in range(40)])
    add_fault(aws, service="sqs", operation="SendMessageBatch", error="InternalError", rate=0.25, per_entry=True)
    try:
        job = _redrive(dlq)
    finally:
        clear_faults(aws)
    by_state = states(job)
    failed = {i for i, s in by_state.items() if s == RedriveItemState.FAILED}
    redriven = {i for i, s in by_state.items() if s == RedriveItemState.REDRIVEN}
    assert failed and redriven and failed | redriven == set(ids)
    assert sorted(m["MessageId"] for m in drain(dlq.url)) == sorted(failed)
    assert len(drain(dlq.source_url)) == len(redriven)
    assert set(RedriveItem.objects.filter(job=job, state=RedriveItemState.FAILED).values_list("reason", flat=True)) == {
        "SendMessage refused: InternalError: Rate exceeded (after 1 tries)"}
