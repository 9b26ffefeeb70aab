"""The sweeper on rows as a killed worker leaves them (the real kill is in tests/ops/tasks/test_workers.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.actions.runner import job_claim, job_request
from ops.actions.sweeper import jobs_sweep
from ops.models import AuditEntry, Job, JobLogEntry, JobStatus, Role
from tests.factories import AccountFactory, make_user
from tests.ops.actions.kinds import SLOW, SLOW_RESUMABLE

pytestmark = pytest.mark.django_db


def _running(kind, *, silent_s, region="us-east-1", attempts=1):
    job = job_request(kind=kind, account=AccountFactory(), region=region, user=make_user(Role.OPERATOR, "olga"),
                      parameters={"items": 5}, idempotency_key=f"{kind}-{region}-{silent_s}").job
    job_claim(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=silent_s), attempts=attempts)
    return job


def test_a_lost_job_that_cannot_resume_is_failed_with_the_reason(django_capture_on_commit_callbacks, no_enqueue):
    job = _running(SLOW, silent_s=125)
    with django_capture_on_commit_callbacks(execute=True):
        result = jobs_sweep(stale_after_s=60)
    job.refresh_from_db()
    assert (result.failed, result.resumed) == ([job.pk], [])
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert job.error in ("worker lost: no heartbeat for 125 s", "worker lost: no heartbeat for 126 s")
    assert no_enqueue == []  # nothing re-sent
    assert AuditEntry.objects.order_by("id").last().message == job.error


def test_a_lost_resumable_job_goes_back_to_pending_and_is_sent_again(django_capture_on_commit_callbacks, no_enqueue):
    with django_capture_on_commit_callbacks(execute=True):
        job = _running(SLOW_RESUMABLE, silent_s=90)
        result = jobs_sweep(stale_after_s=60)
    job.refresh_from_db()
    assert (result.resumed, result.failed, job.status) == ([job.pk], [], JobStatus.PENDING)
    assert no_enqueue == [job.pk, job.pk]
    assert JobLogEntry.objects.filter(job=job).last().message.endswith("resumed (attempt 2 of 3 next)")
    assert job_claim(job_id=job.pk) == 2


def test_a_resumable_job_out_of_attempts_is_failed(no_enqueue):
    job = _running(SLOW_RESUMABLE, silent_s=90, attempts=3)
    assert jobs_sweep(stale_after_s=60, max_attempts=3).failed == [job.pk]
    job.refresh_from_db()
    assert job.error.startswith("worker lost: no heartbeat for ") and job.error.endswith(" s (after 3 attempts)")


def test_a_job_with_a_fresh_heartbeat_is_left_alone(no_enqueue):
    job = _running(SLOW, silent_s=5)
    result = jobs_sweep(stale_after_s=60)
    job.refresh_from_db()
    assert (result.failed, result.resumed, job.status) == ([], [], JobStatus.RUNNING)


def test_a_pending_job_whose_task_was_lost_is_sent_again(django_capture_on_commit_callbacks, no_enqueue):
    job = job_request(kind=SLOW, account=AccountFactory(), region="us-east-1", user="system",
                      parameters={"items": 1}, idempotency_key="lost-task-1").job
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(seconds=300))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep(stale_after_s=60).requeued == [job.pk]
    assert no_enqueue == [job.pk]
    assert Job.objects.get(pk=job.pk).enqueued_at > timezone.now() - timedelta(seconds=5)


def test_a_lost_job_an_operator_asked_to_stop_is_cancelled_not_resumed(django_capture_on_commit_callbacks, no_enqueue):
    job = _running(SLOW_RESUMABLE, silent_s=90)
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now() - timedelta(seconds=100))
    with django_capture_on_commit_callbacks(execute=True):
        result = jobs_sweep(stale_after_s=60)
    job.refresh_from_db()
    assert (result.cancelled, result.resumed, result.failed) == ([job.pk], [], [])
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert job.error.endswith("; it had been asked to stop, so it is cancelled, not resumed")
    assert no_enqueue == []  # nothing re-sent


def test_a_pending_job_queued_behind_a_live_one_is_not_sent_again_until_it_waited_longer_than_a_run(
    django_capture_on_commit_callbacks, no_enqueue
):
    from ops.actions.runner import JOB_TIME_LIMIT

    busy = _running(SLOW, silent_s=5, region="eu-west-1")  # a job running with a live heartbeat
    waiting = job_request(kind=SLOW, account=busy.account, region="us-east-1", user="system",
                          parameters={"items": 1}, idempotency_key="queued-1").job
    no_enqueue.clear()
    Job.objects.filter(pk=waiting.pk).update(enqueued_at=timezone.now() - timedelta(seconds=300))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep(stale_after_s=60).requeued == []
    Job.objects.filter(pk=waiting.pk).update(enqueued_at=timezone.now() - timedelta(seconds=JOB_TIME_LIMIT + 10))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep(stale_after_s=60).requeued == [waiting.pk]
    assert no_enqueue == [waiting.pk]
