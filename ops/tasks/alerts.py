"""The ``alerts`` queue: short work that must run on time — the evaluation tick, notification
delivery and the job sweeper.

The sweeper lives here rather than on the ``actions`` queue because it is the watchdog of the
actions worker: on that queue it would wait behind the long job it is meant to watch (the
actions worker runs one job at a time), and it could not run at all while that worker is the
one that died. A sweep is a few indexed UPDATEs, so it never delays a notification.
Every task here is idempotent (conditional UPDATEs, outbox keys), so each acknowledges late.
"""

from __future__ import annotations

from celery import shared_task

from ops.actions.sweeper import jobs_sweep as _jobs_sweep


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=60)
def jobs_sweep() -> dict:
    """Resume or fail running jobs whose heartbeat stopped; resend pending jobs whose task was lost."""
    result = _jobs_sweep()
    return {"resumed": result.resumed, "failed": result.failed, "requeued": result.requeued}


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=58)
def alerts_tick() -> dict:
    """One evaluation tick: judge every rule × function on stored telemetry (ops.alerts.evaluate),
    turn the state changes into incidents (ops.alerts.incidents), then send what is due."""
    from ops.alerts.evaluate import alerts_evaluate
    from ops.alerts.incidents import flips_process

    tick = alerts_evaluate()
    processed = flips_process()
    notifications_send.delay()
    return {"flips": tick.flips, "processed": processed}


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=58)
def notifications_send() -> dict:
    """Send every due notification of the outbox (ops.alerts.outbox)."""
    from ops.alerts.outbox import notifications_deliver

    result = notifications_deliver()
    return {"sent": result.sent, "failed": result.failed, "retrying": result.retrying}
