"""A real actions worker SIGKILLed in the middle of a redrive: the sweeper resumes the job, the
next worker finishes it, every message is redriven and none is lost."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from ops.actions.sweeper import jobs_sweep
from ops.models import JOB_TERMINAL, Job, JobStatus, RedriveItem, RedriveItemState, Role
from ops.selectors.redrive import RedriveSelection
from ops.services.redrive import dlq_redrive_request
from tests.factories import make_user
from tests.ops.actions.redrive.helpers import drain, make_dlq, put_messages
from tests.ops.tasks.conftest import workers  # noqa: F401 - the real-worker fixture
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paced(monkeypatch):
    """Worker settings (read from the environment the worker inherits): slow enough to kill mid-way,
    a short visibility so the resumed run gets the lost worker's in-flight messages back soon."""
    monkeypatch.setenv("REDRIVE_RATE_PER_SECOND", "25")
    monkeypatch.setenv("REDRIVE_VISIBILITY_SECONDS", "3")


def test_kill_the_worker_mid_redrive_and_the_resumed_job_finishes_with_nothing_lost(aws, paced, workers):  # noqa: F811
    dlq = make_dlq()
    put_messages(dlq, [f"order-{i}" for i in range(150)])
    (first,) = workers.start("actions")
    job = dlq_redrive_request(queue=dlq.queue, selection=RedriveSelection(), user=make_user(Role.OPERATOR, "olga"),
                              idempotency_key="kill-key-123456").job
    wait_until(lambda: Job.objects.filter(pk=job.pk, progress_done__gte=30).exists(), 60, "30 messages redriven")
    first.kill()
    done_at_kill = Job.objects.get(pk=job.pk).progress_done
    time.sleep(1.5)
    assert done_at_kill < 150 and Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    assert jobs_sweep(stale_after_s=1).resumed == [job.pk]
    workers.start("actions")
    job = wait_until(lambda: Job.objects.filter(pk=job.pk, status__in=JOB_TERMINAL).first(), 90, "the resumed redrive")
    assert (job.status, job.attempts, job.progress_total, job.progress_done, job.progress_failed) == (
        JobStatus.SUCCEEDED, 2, 150, 150, 0)
    assert set(RedriveItem.objects.filter(job=job).values_list("state", flat=True)) == {RedriveItemState.REDRIVEN}
    assert drain(dlq.url) == []
    copies = Counter(m["Body"] for m in drain(dlq.source_url))
    assert set(copies) == {f"order-{i}" for i in range(150)}
    # A delivered message is never sent again; only a kill between SendMessageBatch's answer and
    # the commit that records it (a few milliseconds) can repeat that one batch: at-least-once.
    assert sum(copies.values()) - 150 <= 10
