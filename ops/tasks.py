"""Celery tasks are interfaces: ids in, load, call a service. Retries only for transient errors."""

from __future__ import annotations

from celery import shared_task

from ops.models import Account, PollSource
from ops.pollers.base import TransientPollError, enabled_scopes, poll_run
from ops.pollers.inventory import inventory_poll
from ops.pollers.logs import logs_poll
from ops.pollers import rollup
from ops.pollers.metrics import metrics_poll

RETRY = {"autoretry_for": (TransientPollError,), "retry_backoff": 15, "retry_backoff_max": 300, "max_retries": 3}


@shared_task(name="ops.tasks.poll_inventory_all", ignore_result=True)
def poll_inventory_all() -> int:
    """Fan out one inventory task per enabled account×region."""
    scopes = enabled_scopes()
    for account, region in scopes:
        poll_inventory.delay(account.pk, region)
    return len(scopes)


@shared_task(name="ops.tasks.poll_inventory", ignore_result=True, **RETRY)
def poll_inventory(account_id: int, region: str) -> int:
    account = Account.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return 0
    outcome = poll_run(source=PollSource.INVENTORY, account=account, region=region, work=inventory_poll)
    return outcome.items


@shared_task(name="ops.tasks.poll_metrics_all", ignore_result=True)
def poll_metrics_all() -> int:
    """Fan out one metrics task per enabled account×region."""
    scopes = enabled_scopes()
    for account, region in scopes:
        poll_metrics.delay(account.pk, region)
    return len(scopes)


# No autoretry: a run that fails transiently keeps its cursors, and the next beat tick (a
# minute later) re-reads the same window; a retry on top would only add calls.
@shared_task(name="ops.tasks.poll_metrics", ignore_result=True)
def poll_metrics(account_id: int, region: str) -> int:
    account = Account.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return 0
    try:
        outcome = poll_run(source=PollSource.METRICS, account=account, region=region, work=metrics_poll)
    except TransientPollError:
        return 0
    return outcome.items


@shared_task(name="ops.tasks.poll_logs_all", ignore_result=True)
def poll_logs_all() -> int:
    """Fan out one logs task per enabled account×region."""
    scopes = enabled_scopes()
    for account, region in scopes:
        poll_logs.delay(account.pk, region)
    return len(scopes)


# Like metrics: a transient failure keeps the log-group cursors and the next tick re-reads.
@shared_task(name="ops.tasks.poll_logs", ignore_result=True)
def poll_logs(account_id: int, region: str) -> int:
    account = Account.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return 0
    try:
        outcome = poll_run(source=PollSource.LOGS, account=account, region=region, work=logs_poll)
    except TransientPollError:
        return 0
    return outcome.items


@shared_task(name="ops.tasks.poll_rollups", ignore_result=True)
def poll_rollups() -> int:
    """Re-roll the trailing window into the 5-minute and hourly tables."""
    return rollup.rollup_recent()


@shared_task(name="ops.tasks.poll_retention", ignore_result=True)
def poll_retention() -> dict:
    """Delete telemetry past its retention."""
    return rollup.retention_apply()
