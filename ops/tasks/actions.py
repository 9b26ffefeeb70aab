"""The ``actions`` queue: operator actions, each one a job (ops.actions.runner).

These tasks acknowledge early (``acks_late=False``): redelivering a half-done redrive or
rollback to another worker is exactly what must not happen blindly. Crash recovery belongs to
the job itself: its heartbeat stops, and the sweeper resumes it (kinds that say they are
resumable, from their progress counters) or fails it with the reason.
"""

from __future__ import annotations

from celery import shared_task

from ops.actions import runner

@shared_task(
    acks_late=False, ignore_result=True, soft_time_limit=runner.JOB_SOFT_TIME_LIMIT, time_limit=runner.JOB_TIME_LIMIT
)
def job_run(job_id: int) -> str | None:
    """Claim and run one job; a message for a job already claimed, finished or cancelled does nothing."""
    return runner.job_run(job_id=job_id)
