"""One parsed trace → its Trace row, segment documents and downstream calls, idempotently.

Per trace, in one transaction (a savepoint inside the run): the Trace row is upserted on its
X-Ray id, and its segments and calls are *replaced* (a trace fetched again — it was still in
progress — keeps one copy of each). A trace the database refuses (a NUL inside a JSON string)
is handed back for the quarantine and the rest of the batch is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import DatabaseError, transaction

from ops.models import TRACE_STATUS_RANK, Function, Trace, TraceCall, TraceSegment
from ops.pollers.traces.parse import ParsedTrace


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def trace_store(*, parsed: ParsedTrace, function: Function, fetched_at: datetime) -> str | None:
    """Store ``parsed`` for ``function``; returns None, or why the database refused it."""
    ts = _at(parsed.start)
    fields = {
        "function": function,
        "ts": ts,
        "duration_ms": parsed.duration_ms,
        "response_ms": parsed.response_ms,
        "status": parsed.status,
        "status_rank": TRACE_STATUS_RANK[parsed.status],
        "http_status": parsed.http_status,
        "version": parsed.version,
        "cold_start": parsed.cold_start,
        "init_ms": parsed.init_ms,
        "downstream_calls": len(parsed.calls),
        "request_id": parsed.request_id,
        "segment_count": parsed.segment_count,
        "subsegment_count": parsed.subsegment_count,
        "in_progress": parsed.in_progress,
        "notes": parsed.notes,
        "annotations": parsed.annotations,
        "error_type": parsed.error_type,
        "fetched_at": fetched_at,
    }
    try:
        with transaction.atomic():
            trace, _ = Trace.objects.update_or_create(trace_id=parsed.trace_id, defaults=fields)
            TraceSegment.objects.filter(trace=trace).delete()
            TraceCall.objects.filter(trace=trace).delete()
            TraceSegment.objects.bulk_create(
                [
                    TraceSegment(trace=trace, segment_id=sid[:64], ts=ts, document=doc)
                    for sid, doc in dict(parsed.documents).items()
                ]
            )
            # Subsegment ids are unique per trace in X-Ray; a repeat is the same call.
            calls = {c.subsegment_id: c for c in parsed.calls}
            TraceCall.objects.bulk_create(
                [
                    TraceCall(
                        trace=trace, function=function, subsegment_id=c.subsegment_id, ts=ts, service=c.service,
                        namespace=c.namespace, operation=c.operation, duration_ms=c.duration_ms, error=c.error,
                        fault=c.fault, throttle=c.throttle, http_status=c.http_status,
                    )
                    for c in calls.values()
                ]
            )
    except DatabaseError as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return None
