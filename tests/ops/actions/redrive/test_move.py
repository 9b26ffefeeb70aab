"""SQS's own redrive (the move task) and the purge, as jobs against the sandbox."""

from __future__ import annotations

import pytest

from ops.actions.runner import job_run
from ops.models import Job, JobStatus, Role
from ops.selectors.redrive import RedriveSelection
from ops.services.redrive import dlq_purge_request, dlq_redrive_request
from tests.factories import make_user
from tests.ops.actions.redrive.helpers import drain, make_dlq, put_messages

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
