"""The ``alerts`` queue: short work that must run on time — rule evaluation and notifications
(next), and the job sweeper.

The sweeper lives here rather than on the ``actions`` queue because it is the watchdog of the
actions worker: on that queue it would wait behind the long job it is meant to watch (the
actions worker runs one job at a time), and it could not run at all while that worker is the
one that died. A sweep is a few indexed UPDATEs, so it never delays a notification.
Idempotent (every change is a conditional UPDATE), so it acknowledges late.
"""

from __future__ import annotations

from celery import shared_task

from ops.actions.sweeper import jobs_sweep as _jobs_sweep


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=60)
def jobs_sweep() -> dict:
    """Resume or fail running jobs whose heartbeat stopped; resend pending jobs whose task was lost."""
    result = _jobs_sweep()
    return {"resumed": result.resumed, "failed": result.failed, "requeued": result.requeued}
