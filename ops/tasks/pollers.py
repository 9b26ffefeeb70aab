"""The ``pollers`` queue: AWS polling and telemetry housekeeping.

Celery tasks are interfaces: ids in, load, call a service. Retries only for transient errors.
Every task here is idempotent (upserts on AWS's natural keys, one run per scope under an
advisory lock), so each acknowledges late: a worker killed mid-poll has its task redelivered,
and running the same window twice changes nothing.

Every task that calls AWS flushes this process's API-call counters into ApiUsage when it ends
(the counters are per process; the status page shows the product's own AWS spend from them).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ops.models import Account, PollSource
from ops.pollers import partitions, rollup
from ops.pollers.base import TransientPollError, enabled_scopes, poll_run
from ops.pollers.changes import caught_fire_unread, changes_poll
from ops.pollers.dlq import dlq_poll
from ops.pollers.inventory import inventory_poll
from ops.pollers.logs import logs_poll
from ops.pollers.metrics import metrics_poll
from ops.pollers.traces import traces_poll
from ops.services.usage import api_usage_flush_quietly

log = logging.getLogger(__name__)

# The backoff cap bounds how long a retry's message is held before it runs: the broker's
# visibility timeout is sized from it (dashboard/settings.py).
RETRY = {
    "autoretry_for": (TransientPollError,),
    "retry_backoff": 15,
    "retry_backoff_max": settings.CELERY_POLL_RETRY_BACKOFF_MAX,
    "max_retries": 3,
}
# A poll of one scope: the configured limits (CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT).
POLL = {
    "acks_late": True,
    "ignore_result": True,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
}
# A fan-out only reads the enabled scopes and sends one message each.
FAN_OUT = {"acks_late": True, "ignore_result": True, "soft_time_limit": 30, "time_limit": 60}



# A burst of metrics runs (one per account × region, all due at once) asks for one tick.
ALERTS_TICK_DEBOUNCE_S = 5


def alerts_tick_soon() -> None:
    """Ask for an evaluation tick now that new minutes are stored, rather than at the next beat
    tick up to a minute later (alert latency). Debounced by a Redis SET NX with a few seconds'
    expiry; a Redis fault only loses the early tick (the beat one still comes).

    The tick runs when the debounce ends, not at once: a run that finishes within it (another
    account × region of the same burst) finds the key taken, and its minutes must still be in
    the tick it was folded into. Sent at once, that tick could start before they are committed,
    and they would wait for the beat tick, a minute later."""
    from ops.tasks.alerts import alerts_tick

    try:
        if cache.add("alerts-tick-requested", "1", ALERTS_TICK_DEBOUNCE_S):
            transaction.on_commit(lambda: alerts_tick.apply_async(countdown=ALERTS_TICK_DEBOUNCE_S))
    except Exception:  # noqa: BLE001 - never fail a poll for an early tick
        log.warning("could not ask for an early alert tick", exc_info=True)


def _poll(source: str, account_id: int, region: str, work, *, swallow_transient: bool) -> int:
    account = Account.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return 0
    try:
        return poll_run(source=source, account=account, region=region, work=work).items
    except TransientPollError:
        if swallow_transient:
            return 0
        raise
    finally:
        api_usage_flush_quietly()


def _fan_out(task) -> int:
    scopes = enabled_scopes()
    for account, region in scopes:
        task.delay(account.pk, region)
    return len(scopes)


@shared_task(**FAN_OUT)
def poll_inventory_all() -> int:
    """Fan out one inventory task per enabled account×region."""
    return _fan_out(poll_inventory)


@shared_task(**POLL, **RETRY)
def poll_inventory(account_id: int, region: str) -> int:
    return _poll(PollSource.INVENTORY, account_id, region, inventory_poll, swallow_transient=False)


@shared_task(**FAN_OUT)
def poll_metrics_all() -> int:
    """Fan out one metrics task per enabled account×region."""
    return _fan_out(poll_metrics)


# No autoretry for metrics and logs: a run that fails transiently keeps its cursors, and the
# next beat tick (a minute later) re-reads the same window; a retry on top would only add calls.
@shared_task(**POLL)
def poll_metrics(account_id: int, region: str) -> int:
    items = _poll(PollSource.METRICS, account_id, region, metrics_poll, swallow_transient=True)
    # A function this poll found on fire, with no deploy named and its aliases unread since:
    # look for the change that did it now rather than at the changes poller's next tick.
    if items:
        alerts_tick_soon()
    account = Account.objects.filter(pk=account_id, enabled=True).first()
    if account is not None and caught_fire_unread(account=account, region=region, now=timezone.now()):
        transaction.on_commit(lambda: poll_changes.delay(account_id, region))
    return items


@shared_task(**FAN_OUT)
def poll_logs_all() -> int:
    """Fan out one logs task per enabled account×region."""
    return _fan_out(poll_logs)


@shared_task(**POLL)
def poll_logs(account_id: int, region: str) -> int:
    return _poll(PollSource.LOGS, account_id, region, logs_poll, swallow_transient=True)


@shared_task(**FAN_OUT)
def poll_changes_all() -> int:
    """Fan out one CloudTrail changes task per enabled account×region."""
    return _fan_out(poll_changes)


# No autoretry: the next tick re-reads the trailing window anyway (EventId dedup).
@shared_task(**POLL)
def poll_changes(account_id: int, region: str) -> int:
    return _poll(PollSource.CHANGES, account_id, region, changes_poll, swallow_transient=True)


@shared_task(**FAN_OUT)
def poll_dlq_all() -> int:
    """Fan out one DLQ task per enabled account×region."""
    return _fan_out(poll_dlq)


# No autoretry: a failed peek has handed its messages back, and the next tick reads again.
@shared_task(**POLL)
def poll_dlq(account_id: int, region: str) -> int:
    return _poll(PollSource.DLQ, account_id, region, dlq_poll, swallow_transient=True)


@shared_task(**FAN_OUT)
def poll_traces_all() -> int:
    """Fan out one X-Ray traces task per enabled account×region."""
    return _fan_out(poll_traces)


# No autoretry: a transient failure keeps the cursor and the next tick re-reads the window;
# stored traces are not fetched again, so the retry would only add calls.
@shared_task(**POLL)
def poll_traces(account_id: int, region: str) -> int:
    return _poll(PollSource.TRACES, account_id, region, traces_poll, swallow_transient=True)


@shared_task(**POLL)
def poll_rollups() -> int:
    """Re-roll the trailing window into the 5-minute and hourly tables."""
    return rollup.rollup_recent()


@shared_task(**POLL)
def poll_retention() -> dict:
    """Delete telemetry past its retention."""
    return rollup.retention_apply()


@shared_task(**POLL)
def poll_partitions() -> dict:
    """Make the telemetry partitions ahead, move rows out of the default ones, drop expired ones."""
    return partitions.partitions_maintain()


@shared_task(**POLL)
def permissions_check(account_id: int) -> int:
    """Re-check an account's permissions (a poll met AccessDenied, or an admin asked)."""
    from ops.services.permissions import permission_check

    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    try:
        report = permission_check(account=account, actor="system")
    finally:
        api_usage_flush_quietly()
    return len(report.denied())
