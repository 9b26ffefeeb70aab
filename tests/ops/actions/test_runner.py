"""The job lifecycle against real Postgres: request (idempotency, one active per target), claim,
run, cancel, and the fence that keeps a worker presumed lost from finishing a job twice."""

import threading
import time

import pytest
from django.db import connection

from ops.actions.runner import JobContext, JobLost, JobRequestError, _finish, job_cancel, job_claim, job_request, job_run
from ops.models import AuditEntry, Job, JobLogEntry, JobStatus, Role
from tests.factories import AccountFactory, make_user
from tests.ops.actions.kinds import FAILING, SLOW

pytestmark = pytest.mark.django_db


def _request(account, user, key="", kind=SLOW, items=3, delay_s=0.0, region="us-east-1"):
    return job_request(kind=kind, account=account, region=region, user=user, target_label=f"{account.name}/{region}",
                       parameters={"items": items, "delay_s": delay_s}, idempotency_key=key)


def _log(job):
    return list(JobLogEntry.objects.filter(job=job).order_by("id").values_list("message", flat=True))


def test_a_double_post_makes_one_job_queued_once(django_capture_on_commit_callbacks, no_enqueue):
    account, olga = AccountFactory(name="prod"), make_user(Role.OPERATOR, "olga")
    with django_capture_on_commit_callbacks(execute=True):
        first = _request(account, olga, key="form-7f3a9c")
        second = _request(account, olga, key="form-7f3a9c")
    assert (first.created, second.created) == (True, False)
    assert first.job.pk == second.job.pk and Job.objects.count() == 1
    assert second.message == f"Already requested: job #{first.job.pk} is pending."
    assert no_enqueue == [first.job.pk]
    assert list(AuditEntry.objects.values_list("action", "result")) == [(SLOW, "requested")]


def test_a_second_request_for_a_busy_target_returns_the_active_job_with_a_clear_message(no_enqueue):
    account, olga, ivan = AccountFactory(name="prod"), make_user(Role.OPERATOR, "olga"), make_user(Role.OPERATOR, "ivan")
    first = _request(account, olga, key="olga-click")
    job_claim(job_id=first.job.pk)
    second = _request(account, ivan, key="ivan-click")
    assert second.created is False and second.job.pk == first.job.pk
    assert second.message == (
        f"Slow items of prod/us-east-1 is already running (job #{first.job.pk}, asked for by olga); not started twice."
    )
    assert Job.objects.count() == 1 and AuditEntry.objects.count() == 1
    # another region of the same account is another target
    assert _request(account, ivan, key="ivan-eu", region="eu-west-1").created is True


def test_a_key_reused_for_another_target_is_refused(no_enqueue):
    account, olga = AccountFactory(name="prod"), make_user(Role.OPERATOR, "olga")
    _request(account, olga, key="same-key-1")
    with pytest.raises(JobRequestError, match="already used for a different request"):
        _request(account, olga, key="same-key-1", region="eu-west-1")


def test_claim_pending_to_running_exactly_once(no_enqueue):
    job = _request(AccountFactory(), make_user(Role.OPERATOR)).job
    assert job_claim(job_id=job.pk) == 1
    assert job_claim(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    assert job.started_at is not None and job.heartbeat_at == job.started_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_from_eight_threads_have_one_winner(no_enqueue):
    job = _request(AccountFactory(), make_user(Role.OPERATOR)).job
    barrier, wins = threading.Barrier(8), []

    def claim():
        try:
            barrier.wait()
            wins.append(job_claim(job_id=job.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins, key=str) == [1] + [None] * 7


def test_a_run_records_progress_result_log_and_audit(no_enqueue):
    olga = make_user(Role.OPERATOR, "olga")
    job = _request(AccountFactory(name="prod"), olga, items=3).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.progress_done, job.progress_total, job.result, job.error) == (
        JobStatus.SUCCEEDED, 3, 3, {"items": 3}, ""
    )
    assert job.finished_at >= job.started_at >= job.created_at
    assert _log(job) == ["requested by olga", "started (attempt 1)", "item 0", "item 1", "item 2", "succeeded"]
    assert list(AuditEntry.objects.order_by("id").values_list("actor__username", "action", "result")) == [
        ("olga", SLOW, "requested"), ("olga", SLOW, "succeeded")
    ]
    # a second message for the same job (a redelivery) does nothing
    assert job_run(job_id=job.pk) is None
    assert JobLogEntry.objects.filter(job=job, message__startswith="item").count() == 3


def test_a_failing_job_says_why_in_the_job_and_the_audit_log(no_enqueue):
    job = _request(AccountFactory(), make_user(Role.OPERATOR), kind=FAILING).job
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "the target refused: AccessDenied")
    assert AuditEntry.objects.order_by("id").last().message == "the target refused: AccessDenied"


def test_cancel_a_pending_job_and_its_task_then_does_nothing(no_enqueue):
    olga = make_user(Role.OPERATOR, "olga")
    job = _request(AccountFactory(), olga).job
    assert job_cancel(job=job, user=olga) == f"Job #{job.pk} cancelled."
    assert job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_done) == (JobStatus.CANCELLED, 0, 0)
    assert job_cancel(job=job, user=olga) == f"Job #{job.pk} is already cancelled; nothing to cancel."
    assert list(AuditEntry.objects.order_by("id").values_list("result", "message")) == [
        ("requested", ""), ("failed", "cancelled by olga before it started")
    ]


@pytest.mark.django_db(transaction=True)
def test_cancel_a_running_job_stops_it_at_its_next_step(no_enqueue):
    olga = make_user(Role.OPERATOR, "olga")
    job = _request(AccountFactory(), olga, items=50, delay_s=0.05).job
    runner = threading.Thread(target=lambda: (job_run(job_id=job.pk), connection.close()))
    runner.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Job.objects.filter(pk=job.pk, progress_done__gte=2).exists():
        time.sleep(0.02)
    assert job_cancel(job=job, user=olga) == f"Job #{job.pk} will stop at its next step."
    runner.join(timeout=10)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and 2 <= job.progress_done < 50
    assert job.error == "cancelled by an operator while running"


def test_a_worker_that_lost_its_job_cannot_write_to_it(no_enqueue):
    job = _request(AccountFactory(), make_user(Role.OPERATOR)).job
    assert job_claim(job_id=job.pk) == 1
    # the sweeper resumed it and another worker claimed it: attempt 2 owns the job now
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PENDING)
    assert job_claim(job_id=job.pk) == 2
    stale = JobContext(Job.objects.get(pk=job.pk), attempt=1)
    with pytest.raises(JobLost):
        stale.progress(done=1)
    with pytest.raises(JobLost):
        stale.check()
    assert _finish(stale.job, 1, JobStatus.SUCCEEDED, result={}) is False
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_done) == (JobStatus.RUNNING, 2, 0)
