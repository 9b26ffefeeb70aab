"""X-Ray reads: trace summaries (filtered, paginated, ≤ 6 h per window) and full traces (≤ 5 ids a call).

GetTraceSummaries is priced per trace scanned and BatchGetTraces per trace retrieved
(ops.costs.api); both limits are the API's own, so they are enforced here, not left to AWS's
InvalidRequestException.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ops.aws import usage
from ops.aws.client import Scope, call, client

MAX_WINDOW = timedelta(hours=6)  # GetTraceSummaries refuses a longer StartTime–EndTime
BATCH_IDS = 5  # BatchGetTraces takes at most 5 trace ids


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    start: float | None  # epoch seconds (StartTime; absent in old API answers)
    duration_s: float | None
    response_s: float | None
    has_error: bool
    has_fault: bool
    has_throttle: bool
    is_partial: bool
    http_status: int | None
    resource_arns: tuple[str, ...]
    service_names: tuple[str, ...]


@dataclass(frozen=True)
class SummaryPage:
    summaries: tuple[TraceSummary, ...]
    # True when every page was read; False when max_pages stopped the read early.
    complete: bool
    pages: int


@dataclass(frozen=True)
class RawSegment:
    segment_id: str
    document: str  # the JSON text as X-Ray returned it (parsed by the poller, which may refuse it)


@dataclass(frozen=True)
class RawTrace:
    trace_id: str
    duration_s: float | None
    segments: tuple[RawSegment, ...]


@dataclass(frozen=True)
class TraceBatch:
    traces: tuple[RawTrace, ...]
    unprocessed: tuple[str, ...]


def _float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _epoch(value) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    return _float(value)


def _summary(raw: dict) -> TraceSummary:
    http = raw.get("Http") or {}
    status = http.get("HttpStatus")
    names: list[str] = []
    for sid in raw.get("ServiceIds") or []:
        names.extend(n for n in (sid.get("Names") or [sid.get("Name")]) if n)
    return TraceSummary(
        trace_id=str(raw.get("Id") or ""),
        start=_epoch(raw.get("StartTime")),
        duration_s=_float(raw.get("Duration")),
        response_s=_float(raw.get("ResponseTime")),
        has_error=bool(raw.get("HasError")),
        has_fault=bool(raw.get("HasFault")),
        has_throttle=bool(raw.get("HasThrottle")),
        is_partial=bool(raw.get("IsPartial")),
        http_status=int(status) if isinstance(status, int) else None,
        resource_arns=tuple(str(r.get("ARN")) for r in raw.get("ResourceARNs") or [] if r.get("ARN")),
        service_names=tuple(dict.fromkeys(names)),
    )


def trace_summaries(
    scope: Scope, *, start: datetime, end: datetime, filter_expression: str = "", max_pages: int = 10
) -> SummaryPage:
    """Summaries of the traces that began in [start, end) matching ``filter_expression``, at most
    ``max_pages`` pages (each page is a call; each trace scanned is billed)."""
    if end - start > MAX_WINDOW:
        raise ValueError(f"GetTraceSummaries windows are at most 6 h, got {end - start}")
    c = client("xray", scope)
    params: dict = {"StartTime": start, "EndTime": end, "TimeRangeType": "TraceId"}
    if filter_expression:
        params["FilterExpression"] = filter_expression
    out: list[TraceSummary] = []
    pages = 0
    while True:
        page = call(c, "GetTraceSummaries", **params)
        pages += 1
        scanned = _float(page.get("TracesProcessedCount"))
        if scanned:
            # Billed per trace scanned, known only from the answer (ops.costs.api).
            usage.record_units(service="xray", operation="GetTraceSummaries", account_id=scope.account_id,
                               region=scope.region, units=scanned)
        out.extend(_summary(s) for s in page.get("TraceSummaries") or [] if s.get("Id"))
        token = page.get("NextToken")
        if not token:
            return SummaryPage(summaries=tuple(out), complete=True, pages=pages)
        if pages >= max_pages:
            return SummaryPage(summaries=tuple(out), complete=False, pages=pages)
        params["NextToken"] = token


def batch_get_traces(scope: Scope, trace_ids: list[str]) -> TraceBatch:
    """Full traces for ``trace_ids``, BATCH_IDS per call (BatchGetTraces pages rarely; followed)."""
    c = client("xray", scope)
    traces: list[RawTrace] = []
    unprocessed: list[str] = []
    for i in range(0, len(trace_ids), BATCH_IDS):
        params: dict = {"TraceIds": list(trace_ids[i : i + BATCH_IDS])}
        while True:
            page = call(c, "BatchGetTraces", **params)
            for t in page.get("Traces") or []:
                segs = tuple(
                    RawSegment(segment_id=str(s.get("Id") or ""), document=str(s.get("Document") or ""))
                    for s in t.get("Segments") or []
                )
                traces.append(
                    RawTrace(trace_id=str(t.get("Id") or ""), duration_s=_float(t.get("Duration")), segments=segs)
                )
            unprocessed.extend(str(u) for u in page.get("UnprocessedTraceIds") or [])
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
    return TraceBatch(traces=tuple(traces), unprocessed=tuple(unprocessed))
