"""Persist the product's own AWS call counts (ops.aws.usage) as priced hourly rows."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from ops.aws import usage
from ops.costs.api import api_call_cost

log = logging.getLogger(__name__)

_SQL = """
INSERT INTO ops_apiusage (hour, service, operation, account_id, region, calls, units, bytes_scanned, cost_usd)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (hour, service, operation, account_id, region) DO UPDATE SET
    calls = ops_apiusage.calls + EXCLUDED.calls,
    units = ops_apiusage.units + EXCLUDED.units,
    bytes_scanned = ops_apiusage.bytes_scanned + EXCLUDED.bytes_scanned,
    cost_usd = ops_apiusage.cost_usd + EXCLUDED.cost_usd
"""


def api_usage_flush(*, now: datetime | None = None) -> int:
    """Drain this process's counters into ApiUsage (the current hour); return rows written.

    Counters live in each worker process, so every task that calls AWS flushes at its end.
    Draining is destructive, so the rows are added to (not replaced): each count lands once.
    """
    rows = usage.drain_all()
    if not rows:
        return 0
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    params = [
        (
            hour,
            key.service,
            key.operation,
            key.account_id[:12],
            key.region,
            calls,
            units,
            scanned,
            api_call_cost(service=key.service, operation=key.operation, calls=calls, units=units, bytes_scanned=scanned),
        )
        for key, calls, units, scanned in rows
    ]
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(_SQL, params)
    return len(params)


def api_usage_flush_quietly() -> None:
    """``api_usage_flush`` at the end of a poll or a job: losing a few counts must never fail it."""
    try:
        api_usage_flush()
    except Exception:  # noqa: BLE001 - logged; the work it follows has succeeded or failed on its own
        log.exception("could not persist API usage counts")
