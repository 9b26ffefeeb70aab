"""Reads of stored X-Ray traces: the trace list, one trace's waterfall, a function's service map.

Every read is bounded: the list pages on the server, the waterfall draws at most
TRACE_WATERFALL_ROWS rows (and says how many it left out), the map aggregates in SQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Subquery

from ops.models import Function, LogLine, Trace, TraceSegment, TraceStatus
from ops.pollers.traces.parse import Node, tree_flatten  # the poller's own reading of a document: page = columns

TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
WIDTH = 1000  # the waterfall's SVG viewBox width: offsets and widths are numbers on this scale
LOG_LINES = 50
MAP_EDGES = 100


@dataclass(frozen=True)
class TraceFilters:
    since: datetime
    until: datetime
    errors_only: bool = False
    cold_only: bool = False
    slower_ms: int | None = None
    version: str = ""
    group_id: int | None = None  # an error group: traces whose request id logged one of its lines


@dataclass(frozen=True)
class TracePage:
    traces: list[Trace]
    page: int
    per_page: int
    has_more: bool


_LIST_FIELDS = ("id", "trace_id", "function_id", "ts", "duration_ms", "status", "http_status", "version", "cold_start",
                "init_ms", "downstream_calls", "request_id", "error_type", "in_progress")


def traces_function(*, pk: int) -> Function | None:
    """The function of a traces page, with its account: the header only (no aliases or queues)."""
    return Function.objects.select_related("account").filter(pk=pk).first()


def trace_list(*, function: Function, filters: TraceFilters, per_page: int = 50, page: int = 1) -> TracePage:
    """One function's traces in the window, faults/errors/throttles first, then slowest: one query."""
    qs = Trace.objects.filter(function=function, ts__gte=filters.since, ts__lt=filters.until)
    if filters.errors_only:
        qs = qs.exclude(status=TraceStatus.OK)
    if filters.cold_only:
        qs = qs.filter(cold_start=True)
    if filters.slower_ms is not None:
        qs = qs.filter(duration_ms__gt=filters.slower_ms)
    if filters.version:
        qs = qs.filter(version=filters.version)
    if filters.group_id is not None:
        lines = LogLine.objects.filter(function=function, group_id=filters.group_id).exclude(request_id="")
        qs = qs.filter(request_id__in=Subquery(lines.values("request_id")))
    offset = (page - 1) * per_page
    ordered = qs.only(*_LIST_FIELDS).order_by("status_rank", "-duration_ms", "-ts", "id")
    rows = list(ordered[offset : offset + per_page + 1])
    return TracePage(traces=rows[:per_page], page=page, per_page=per_page, has_more=len(rows) > per_page)


# ---------------------------------------------------------------------------------------------
# The waterfall


@dataclass(frozen=True)
class WaterfallRow:
    name: str
    depth: int
    indent: int  # the name cell's indent class (d0…d12): depth, capped (no inline styles: CSP)
    kind: str  # segment | subsegment
    origin: str
    namespace: str
    operation: str
    offset_ms: float
    duration_ms: float | None  # None: still in progress
    x: float  # 0..WIDTH
    width: float
    state: str  # fault | error | throttle | ok | open
    http_status: int | None
    annotations: dict
    metadata: str  # JSON text, truncated
    exceptions: list
    node_id: str
    # Labels made here, not by template filters: a page of hundreds of rows renders in half the time.
    offset_label: str = ""
    duration_label: str = ""
    has_detail: bool = False


@dataclass(frozen=True)
class TraceDetail:
    trace: Trace
    rows: list[WaterfallRow]
    total_rows: int
    capped: bool
    span_ms: float
    ticks: list[tuple[float, str]]  # (x on 0..WIDTH, label)
    notes: list[str]
    exceptions: list[dict]  # [{"where": name, "type", "message", "stack"}]
    log_lines: list[LogLine]
    log_lines_truncated: bool
    log_window: tuple[datetime, datetime] | None = None


def trace_id_valid(trace_id: str) -> bool:
    return bool(TRACE_ID.fullmatch(trace_id))


def _state(node: Node) -> str:
    if node.end is None:
        return "open"
    return "fault" if node.fault else "error" if node.error else "throttle" if node.throttle else "ok"


def _ticks(span_ms: float) -> list[tuple[float, str]]:
    if span_ms <= 0:
        return [(0.0, "0 ms")]
    raw = span_ms / 5
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    out, t = [], 0.0
    while t <= span_ms + 1e-9:
        label = f"{t / 1000:g} s" if step >= 1000 else f"{t:g} ms"
        out.append((round(t / span_ms * WIDTH, 2), label))
        t += step
    return out


def trace_detail(*, trace_id: str, max_rows: int | None = None) -> TraceDetail | None:
    """One trace as a waterfall (server-side layout), its exceptions, and the log lines of its
    request id. Three queries: the trace, its segments, its lines."""
    if not trace_id_valid(trace_id):
        return None
    trace = Trace.objects.select_related("function", "function__account").filter(trace_id=trace_id).first()
    if trace is None:
        return None
    max_rows = max_rows or settings.TRACE_WATERFALL_ROWS
    docs = [(sid, doc) for sid, doc in TraceSegment.objects.filter(trace=trace).values_list("segment_id", "document")
            if isinstance(doc, dict)]
    tree, _kept = tree_flatten(docs, max_nodes=settings.TRACE_MAX_SUBSEGMENTS)
    nodes = tree.nodes
    start = min((n.start for n in nodes), default=0.0)
    end = max((n.end for n in nodes if n.end is not None), default=start)
    span_s = max(end - start, 1e-6)
    rows = []
    exceptions = []
    for n in nodes:
        for e in n.exceptions:
            if len(exceptions) < 20:
                exceptions.append({"where": n.name, **e})
        if len(rows) >= max_rows:
            continue
        x = (n.start - start) / span_s * WIDTH
        w = ((n.end if n.end is not None else end) - n.start) / span_s * WIDTH
        meta = json.dumps(n.metadata, default=str)[:2000] if n.metadata else ""
        rows.append(WaterfallRow(
            name=n.name, depth=n.depth, indent=min(n.depth, 12), kind="segment" if n.segment else "subsegment",
            origin=n.origin, namespace=n.namespace, operation=n.operation,
            offset_ms=round((n.start - start) * 1000, 3),
            duration_ms=round(n.duration_ms, 3) if n.duration_ms is not None else None,
            x=round(max(0.0, min(x, WIDTH)), 2), width=round(max(0.5, min(w, WIDTH - max(0.0, x))), 2),
            state=_state(n), http_status=n.http_status,
            annotations={str(k): v for k, v in list(n.annotations.items())[:20]}, metadata=meta,
            exceptions=n.exceptions, node_id=n.node_id,
            offset_label=f"{(n.start - start) * 1000:.1f} ms",
            duration_label="in progress" if n.duration_ms is None else f"{n.duration_ms:.1f} ms",
            has_detail=bool(n.annotations or meta or n.exceptions or n.http_status or n.operation),
        ))
    lines, truncated, window = [], False, None
    if trace.request_id:
        # The request's lines lie within its trace; a minute either side covers clock skew and
        # REPORT lines stamped at the end. (function, ts) is indexed; request_id filters within.
        until = trace.ts + timedelta(milliseconds=trace.duration_ms)
        window = (trace.ts - timedelta(minutes=1), until + timedelta(minutes=1))
        got = list(
            LogLine.objects.filter(
                function_id=trace.function_id, ts__gte=window[0], ts__lt=window[1], request_id=trace.request_id
            )
            .select_related("group").order_by("ts", "id")[: LOG_LINES + 1]
        )
        lines, truncated = got[:LOG_LINES], len(got) > LOG_LINES
    notes = list(trace.notes or [])
    for note in tree.notes:
        if note not in notes:
            notes.append(note)
    return TraceDetail(
        trace=trace, rows=rows, total_rows=len(nodes), capped=len(nodes) > len(rows), span_ms=round(span_s * 1000, 3),
        ticks=_ticks(span_s * 1000), notes=notes, exceptions=exceptions, log_lines=lines, log_lines_truncated=truncated,
        log_window=window,
    )


# ---------------------------------------------------------------------------------------------
# The service map


@dataclass(frozen=True)
class Edge:
    service: str
    namespace: str
    calls: int
    errors: int  # error or fault
    throttles: int
    p50_ms: float | None
    p99_ms: float | None
    operations: list[str]
    traces: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def error_pct(self) -> float:
        return self.error_rate * 100.0


@dataclass(frozen=True)
class MapNode:
    service: str
    x: float
    y: float
    state: str
    edge: Edge


@dataclass(frozen=True)
class ServiceMap:
    function: Function
    since: datetime
    until: datetime
    edges: list[Edge]
    nodes: list[MapNode]
    height: int
    center_y: float
    truncated: bool


_MAP_SQL = """
SELECT service, namespace, count(*) AS calls,
       count(*) FILTER (WHERE error OR fault) AS errors,
       count(*) FILTER (WHERE throttle) AS throttles,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99,
       (array_agg(DISTINCT operation) FILTER (WHERE operation <> ''))[1:10] AS operations,
       count(DISTINCT trace_id) AS traces
FROM ops_tracecall
WHERE function_id = %s AND ts >= %s AND ts < %s
GROUP BY service, namespace
ORDER BY calls DESC, service
LIMIT %s
"""


def _edges(*, function: Function, since: datetime, until: datetime, limit: int) -> list[Edge]:
    with connection.cursor() as cur:
        cur.execute(_MAP_SQL, [function.pk, since, until, limit])
        rows = cur.fetchall()
    return [
        Edge(service=s, namespace=ns, calls=int(c), errors=int(e), throttles=int(t),
             p50_ms=round(p50, 3) if p50 is not None else None, p99_ms=round(p99, 3) if p99 is not None else None,
             operations=list(ops or []), traces=int(tr))
        for s, ns, c, e, t, p50, p99, ops, tr in rows
    ]


def edge_state(edge: Edge) -> str:
    if edge.error_rate >= 0.05:
        return "bad"
    if edge.errors or edge.throttles:
        return "warn"
    return "ok"


def service_map(*, function: Function, since: datetime, until: datetime) -> ServiceMap:
    """The downstream services in ``function``'s stored traces in [since, until): calls, error
    rate and p50/p99 per edge, laid out as a star (the function left, its downstreams right)."""
    edges = _edges(function=function, since=since, until=until, limit=MAP_EDGES + 1)
    truncated = len(edges) > MAP_EDGES
    edges = edges[:MAP_EDGES]
    drawn = edges[:30]
    height = max(120, 56 * len(drawn) + 40)
    nodes = [
        MapNode(service=e.service, x=700.0, y=40.0 + 56 * i, state=edge_state(e), edge=e) for i, e in enumerate(drawn)
    ]
    center = (nodes[0].y + nodes[-1].y) / 2 if nodes else height / 2
    return ServiceMap(function=function, since=since, until=until, edges=edges, nodes=nodes, height=height,
                      center_y=center, truncated=truncated)


def trace_downstream_worst(*, function: Function, since: datetime, until: datetime, min_calls: int = 5) -> Edge | None:
    """The downstream an incident's diagnosis can cite: the highest error rate among edges with at
    least ``min_calls`` calls (any edge when none has that many), ties to the slower p99; None
    when no downstream call was traced in the window."""
    edges = _edges(function=function, since=since, until=until, limit=MAP_EDGES)
    if not edges:
        return None
    pool = [e for e in edges if e.calls >= min_calls] or edges
    return max(pool, key=lambda e: (e.error_rate, e.p99_ms or 0.0, e.calls))
