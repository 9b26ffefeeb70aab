"""SQS's own redrive (the move task) and the purge, as jobs against the sandbox."""

from __future__ import annotations

import pytest

from ops.actions.runner import job_request, job_run
from ops.models import FunctionQueue, Job, JobKind, JobStatus, Role
from ops.selectors.redrive import RedriveSelection
from ops.services.redrive import RedriveRefused, dlq_delete_request, dlq_purge_request, dlq_redrive_request
from tests.factories import make_user
from tests.ops.actions.redrive.helpers import drain, make_dlq, put_messages, sqs_client

pytestmark = pytest.mark.django_db


def test_the_move_task_moves_every_message_back_and_its_counts_become_the_progress(aws, no_enqueue):
    dlq = make_dlq()
    put_messages(dlq, [f"m{i}" for i in range(40)])
    result = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key="move-key-123456", use_move=True, velocity=100)
    assert job_run(job_id=result.job.pk) == JobStatus.SUCCEEDED
    job = Job.objects.get(pk=result.job.pk)
    assert (job.progress_done, job.progress_total, job.result) == (40, 40, {"moved": 40, "status": "COMPLETED"})
    assert sorted(m["Body"] for m in drain(dlq.source_url)) == sorted(f"m{i}" for i in range(40))
    assert drain(dlq.url) == []


def test_cancel_stops_the_move_task(aws, no_enqueue):
    from django.utils import timezone

    dlq = make_dlq()
    put_messages(dlq, [f"m{i}" for i in range(30)])
    result = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                                 idempotency_key="move-key-654321", use_move=True, velocity=1)
    Job.objects.filter(pk=result.job.pk).update(cancel_requested_at=timezone.now())
    assert job_run(job_id=result.job.pk) == JobStatus.CANCELLED
    moved = len(drain(dlq.source_url))
    assert moved < 30 and moved + len(drain(dlq.url)) == 30


def test_purge_empties_the_queue_and_a_second_within_a_minute_fails_with_the_reason(aws, no_enqueue):
    dlq = make_dlq()
    put_messages(dlq, ["a", "b", "c"])
    user = make_user(Role.OPERATOR, "olga")
    first = dlq_purge_request(queue=dlq.queue, confirm_name=dlq.queue.name, user=user, idempotency_key="purge-1-123456")
    assert job_run(job_id=first.job.pk) == JobStatus.SUCCEEDED
    assert drain(dlq.url) == []
    second = dlq_purge_request(queue=dlq.queue, confirm_name=dlq.queue.name, user=user, idempotency_key="purge-2-123456")
    assert job_run(job_id=second.job.pk) == JobStatus.FAILED
    assert "one purge per queue every 60 s" in Job.objects.get(pk=second.job.pk).error


def test_a_live_event_source_queue_is_refused_at_request_and_failed_at_run_touching_nothing(aws, no_enqueue):
    dlq = make_dlq()
    put_messages(dlq, ["a", "b"])
    source = dlq.source
    sqs_client().send_message(QueueUrl=dlq.source_url, MessageBody="live")  # in flight to its function
    user = make_user(Role.OPERATOR, "olga")
    for request in (
        lambda: dlq_purge_request(queue=source, confirm_name=source.name, user=user, idempotency_key="purge-src-123456"),
        lambda: dlq_redrive_request(queue=source, selection=RedriveSelection(), user=user, idempotency_key="redrive-src-1234"),
        lambda: dlq_delete_request(queue=source, selection=RedriveSelection(group="ab"), confirm_name=source.name, user=user,
                                   idempotency_key="delete-src-12345"),
    ):
        with pytest.raises(RedriveRefused, match="orders-queue is not a dead-letter queue of any known function"):
            request()
    assert not Job.objects.exists()
    # A job made for a DLQ whose role is gone by the time it runs (or made some other way).
    job = dlq_purge_request(queue=dlq.queue, confirm_name=dlq.queue.name, user=user, idempotency_key="purge-dlq-123456").job
    FunctionQueue.objects.filter(queue=dlq.queue).delete()
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    assert Job.objects.get(pk=job.pk).error == "orders-dlq is not a dead-letter queue of any known function; nothing was touched"
    assert sorted(m["Body"] for m in drain(dlq.url)) == ["a", "b"]
    stray = job_request(kind=JobKind.DLQ_PURGE, account=source.account, region=source.region, user=user, resource_arn=source.arn,
                        target_label=source.name, idempotency_key="purge-raw-123456", parameters={"queue": source.pk}).job
    assert job_run(job_id=stray.pk) == JobStatus.FAILED
    assert [m["Body"] for m in drain(dlq.source_url)] == ["live"]
