"""Celery beat schedule, in code. Each entry says why it runs when it does.

Every entry expires after its own period: a tick still queued when the next one is due is
dropped by the worker instead of running late on top of it (a backlog of stale polls would
only delay the fresh one).
"""

from django.conf import settings


def beat_schedule() -> dict:
    return {
        # Inventory changes with deploys; a few minutes' lag is fine and keeps Lambda's
        # control-plane API (15 rps) far from its limit.
        "inventory": {
            "task": "ops.tasks.pollers.poll_inventory_all",
            "schedule": float(settings.INVENTORY_POLL_SECONDS),
            "options": {"expires": float(settings.INVENTORY_POLL_SECONDS)},
        },
        # Lambda publishes 1-minute points; each run reads the account × region aggregates the
        # detection trigger judges, then decides per function whether it is due (busy every
        # METRICS_BUSY_POLL_SECONDS, idle every METRICS_IDLE_POLL_SECONDS, every run while a
        # trigger is active; within the daily budget).
        "metrics": {
            "task": "ops.tasks.pollers.poll_metrics_all",
            "schedule": float(settings.METRICS_POLL_SECONDS),
            "options": {"expires": float(settings.METRICS_POLL_SECONDS)},
        },
        # Log lines land 5-10 min late and each run re-reads that much; per function the run
        # decides whether it is due, like metrics.
        "logs": {
            "task": "ops.tasks.pollers.poll_logs_all",
            "schedule": float(settings.LOGS_POLL_SECONDS),
            "options": {"expires": float(settings.LOGS_POLL_SECONDS)},
        },
        # Deploys and configuration changes from CloudTrail: CloudTrail itself delivers them
        # minutes late, so a minute's cadence adds little lag at one LookupEvents call a run.
        "changes": {
            "task": "ops.tasks.pollers.poll_changes_all",
            "schedule": float(settings.CHANGES_POLL_SECONDS),
            "options": {"expires": float(settings.CHANGES_POLL_SECONDS)},
        },
        # DLQ depth and new messages: arrivals after a bad deploy should show (and alert) within
        # a minute; a run is one GetQueueAttributes per DLQ plus a peek only where messages wait.
        "dlq": {
            "task": "ops.tasks.pollers.poll_dlq_all",
            "schedule": float(settings.DLQ_POLL_SECONDS),
            "options": {"expires": float(settings.DLQ_POLL_SECONDS)},
        },
        # A trace is complete seconds after its request; a minute's cadence puts a failing
        # request's path on the page about as soon as its error line, within the per-cycle budget.
        "traces": {
            "task": "ops.tasks.pollers.poll_traces_all",
            "schedule": float(settings.TRACES_POLL_SECONDS),
            "options": {"expires": float(settings.TRACES_POLL_SECONDS)},
        },
        # A 5-minute bucket is complete once its minutes are; re-rolling every 5 minutes keeps
        # the 7- and 30-day charts at most one bucket behind.
        "rollups": {
            "task": "ops.tasks.pollers.poll_rollups",
            "schedule": 300.0,
            "options": {"expires": 300.0},
        },
        # Retention is counted in days; hourly keeps each delete small.
        "retention": {
            "task": "ops.tasks.pollers.poll_retention",
            "schedule": 3600.0,
            "options": {"expires": 3600.0},
        },
        # Partitions are made 3 days (minute) and 2 weeks (five-minute) ahead, so a run every
        # 6 hours has a dozen tries before a write could reach the default partition; the
        # hourly retention run also calls it. Its own entry so a failing delete elsewhere never
        # stops partitions being made.
        "partitions": {
            "task": "ops.tasks.pollers.poll_partitions",
            "schedule": 6 * 3600.0,
            "options": {"expires": 6 * 3600.0},
        },
        # Rules are judged on one-minute windows, so a tick a minute; the metrics poller also
        # asks for one as soon as it has stored new minutes (alert latency).
        "alerts-tick": {
            "task": "ops.tasks.alerts.alerts_tick",
            "schedule": float(settings.ALERTS_TICK_SECONDS),
            "options": {"expires": float(settings.ALERTS_TICK_SECONDS)},
        },
        # The outbox: retries and group waits come due between ticks; a pass over an empty
        # outbox is one indexed query.
        "notifications-send": {
            "task": "ops.tasks.alerts.notifications_send",
            "schedule": float(settings.NOTIFY_SWEEP_SECONDS),
            "options": {"expires": float(settings.NOTIFY_SWEEP_SECONDS)},
        },
        # A lost worker's job should be resumed or failed within a minute or so; a sweep is a
        # few indexed UPDATEs, so running it this often costs nothing.
        "jobs-sweep": {
            "task": "ops.tasks.alerts.jobs_sweep",
            "schedule": float(settings.JOB_SWEEP_SECONDS),
            "options": {"expires": float(settings.JOB_SWEEP_SECONDS)},
        },
    }
