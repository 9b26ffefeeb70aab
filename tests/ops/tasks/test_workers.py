"""Real worker processes, one per queue: an action is not held up by a busy pollers queue, and
a worker SIGKILLed mid-job leaves a job the sweeper fails or resumes without doing anything twice."""

from __future__ import annotations

import time

import pytest

from ops.actions.runner import job_request, job_run
from ops.actions.sweeper import jobs_sweep
from ops.models import JOB_TERMINAL, AuditEntry, Job, JobLogEntry, JobStatus, PollStatus, Role
from ops.services.polling import poll_request
from ops.tasks.pollers import poll_inventory
from sandbox.testing import add_fault, clear_faults
from tests.factories import AccountFactory, make_user
from tests.ops.actions.kinds import SLOW, SLOW_RESUMABLE
from tests.ops.pollers.test_inventory import _estate
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _items_logged(job: Job) -> list[int]:
    return [row["item"] for row in JobLogEntry.objects.filter(job=job, data__has_key="item").order_by("id")
            .values_list("data", flat=True)]


def test_an_action_completes_while_the_pollers_queue_is_busy_with_a_slow_poll(aws, workers):
    _estate()  # two functions in us-east-1
    account = AccountFactory(name="prod", account_id="123456789012", regions=["us-east-1", "eu-west-1"])
    # The scheduled poll of us-east-1 is slowed by AWS itself: its ListFunctions answers after 6 s.
    add_fault(aws, service="lambda", operation="ListFunctions", region="us-east-1", error=None, delay_ms=6000, count=1)
    try:
        workers.start("pollers", "actions")
        poll_inventory.delay(account.pk, "us-east-1")
        wait_until(lambda: PollStatus.objects.filter(region="us-east-1", last_started_at__isnull=False).exists(), 30,
              "the pollers worker to start the slow poll")
        asked = time.monotonic()
        job = poll_request(account_id=account.pk, region="eu-west-1", user=make_user(Role.OPERATOR, "olga")).job
        job = wait_until(lambda: Job.objects.filter(pk=job.pk, status__in=JOB_TERMINAL).first(), 20, "the poll-now job")
        took = time.monotonic() - asked
        slow_poll = PollStatus.objects.get(region="us-east-1")
        assert slow_poll.last_success_at is None, "the pollers task was meant to be still running"
        assert (job.status, job.result["ran"], job.result["items"]) == (JobStatus.SUCCEEDED, True, 0)
        assert took < 6, f"the action took {took:.1f} s: it waited for the pollers queue"
        # and the slow poll was real work that finishes on its own worker
        wait_until(lambda: PollStatus.objects.filter(region="us-east-1", last_success_at__isnull=False).exists(), 30,
              "the slow poll to finish")
        assert PollStatus.objects.get(region="us-east-1").items == 2
    finally:
        clear_faults(aws)


def _killed_mid_job(workers, kind: str, items: int) -> tuple[Job, int]:
    """Start an actions worker, let it do a few items of a slow job, SIGKILL it."""
    (worker,) = workers.start("actions")
    job = job_request(kind=kind, account=AccountFactory(name="prod"), region="us-east-1",
                      user=make_user(Role.OPERATOR, "olga"), target_label="prod/us-east-1",
                      parameters={"items": items, "delay_s": 0.2}).job
    wait_until(lambda: Job.objects.filter(pk=job.pk, progress_done__gte=3).exists(), 30, "three items done")
    worker.kill()
    done_at_kill = Job.objects.get(pk=job.pk).progress_done
    time.sleep(1.5)  # longer than the stale threshold used below: the heartbeat has stopped
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.progress_done == done_at_kill
    return job, done_at_kill


def test_a_job_whose_worker_was_killed_is_failed_by_the_sweeper_and_never_finished_twice(workers):
    job, done_at_kill = _killed_mid_job(workers, SLOW, items=40)
    result = jobs_sweep(stale_after_s=1)
    assert result.failed == [job.pk] and result.resumed == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker lost: no heartbeat for ")
    assert 3 <= done_at_kill < 40 and job.progress_done == done_at_kill
    assert _items_logged(job) == list(range(done_at_kill))  # each item once, none after the kill
    # a late duplicate of the task (or a second sweep) changes nothing
    assert job_run(job_id=job.pk) is None
    assert jobs_sweep(stale_after_s=1).failed == []
    assert list(AuditEntry.objects.filter(parameters__job=job.pk).order_by("id").values_list("result", "message")) == [
        ("requested", ""), ("failed", job.error)
    ]


def test_a_resumable_job_whose_worker_was_killed_is_resumed_by_the_next_worker_from_where_it_stopped(workers):
    job, done_at_kill = _killed_mid_job(workers, SLOW_RESUMABLE, items=12)
    assert jobs_sweep(stale_after_s=1).resumed == [job.pk]  # back to pending, task sent again
    workers.start("actions")
    job = wait_until(lambda: Job.objects.filter(pk=job.pk, status__in=JOB_TERMINAL).first(), 30, "the resumed job")
    assert (job.status, job.attempts, job.progress_done, job.result) == (JobStatus.SUCCEEDED, 2, 12, {"items": 12})
    assert _items_logged(job) == list(range(12))  # every item exactly once across both workers
    attempts = [row["attempt"] for row in JobLogEntry.objects.filter(job=job, data__has_key="item").values_list("data", flat=True)]
    assert attempts == [1] * done_at_kill + [2] * (12 - done_at_kill)


def _fault_hits(endpoint: str) -> int:
    import json
    import urllib.request

    rules = json.loads(urllib.request.urlopen(f"{endpoint}/_sandbox/faults", timeout=10).read())
    return sum(r["hits"] for r in (rules["rules"] if isinstance(rules, dict) else rules))


def test_a_poll_whose_worker_was_killed_mid_run_runs_again_from_the_next_beat_tick(aws, workers):
    """SIGKILL mid-poll: the advisory lock dies with the worker's database connection, beat keeps
    ticking, and the first tick after a worker is back runs the poll — no tick skipped as
    "already running elsewhere", no wait for the killed worker's unacknowledged message."""
    from django.utils import timezone

    from ops.models import PollState
    from ops.pollers.base import advisory_lock

    cadence = 10
    _estate()
    account = AccountFactory(name="prod", account_id="123456789012", regions=["us-east-1"])
    # The first poll's ListFunctions answers after 60 s: the worker is killed while it waits.
    add_fault(aws, service="lambda", operation="ListFunctions", region="us-east-1", error=None, delay_ms=60000, count=1)
    try:
        (first,) = workers.start("pollers")
        beat = workers.beat(TZ="UTC", INVENTORY_POLL_SECONDS=str(cadence), METRICS_POLL_SECONDS="3600",
                            LOGS_POLL_SECONDS="3600", JOB_SWEEP_SECONDS="3600")
        wait_until(lambda: PollStatus.objects.filter(last_started_at__isnull=False).exists(), 60, "the first tick's poll to start")
        wait_until(lambda: _fault_hits(aws) == 1, 30, "its ListFunctions call to be in flight")
        first.kill()
        killed_at = timezone.now()
        assert PollStatus.objects.get().last_success_at is None  # killed mid-poll
        with advisory_lock(f"poll:inventory:{account.pk}:us-east-1") as free:
            assert free, "the killed worker's advisory lock outlived its connection"
        (second,) = workers.start("pollers")  # what compose's restart policy does
        ready_at = timezone.now()
        status = wait_until(lambda: PollStatus.objects.filter(last_success_at__gt=killed_at).first(), 4 * cadence,
                       "a poll after the kill")
        ticks = beat.ticks("inventory")
        after_ready = [t for t in ticks if t >= ready_at]
        assert after_ready, beat.output()[-2000:]
        # The run began no later than the first tick that found a live worker (and before the one after it).
        next_tick = after_ready[1] if len(after_ready) > 1 else None
        assert next_tick is None or status.last_started_at < next_tick, (ticks, status.last_started_at, ready_at, second.output()[-3000:])
        assert (status.items, status.state, status.consecutive_failures) == (2, PollState.OK, 0)
    finally:
        clear_faults(aws)
