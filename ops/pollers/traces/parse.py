"""One X-Ray trace (segment documents as text) → what is stored: pure and bounded.

``trace_parse`` reads every segment document; one that is not JSON, not an object, or lacks
``id``/``name``/``start_time`` is refused with its reason (the poller quarantines it) and the
rest of the trace is kept. ``tree_flatten`` turns the documents into one list of nodes in
waterfall order (depth-first, children by start time); the waterfall selector uses the same
function on the stored documents, so the page and the stored columns never disagree. What the
parser notices and keeps anyway goes to the trace's notes:

- a segment still in progress (no ``end_time``): kept with an open end; the trace is fetched again;
- a segment or subsegment whose ``parent_id`` names nothing in the trace: drawn at the top level
  (the first segment's parent is usually an untraced caller, so that one is not noted);
- a child that starts before or ends after its parent (clocks of two hosts disagree): kept as
  reported;
- more nodes than ``max_nodes`` (thousands of subsegments), or nesting deeper than MAX_DEPTH:
  the rest is cut from the stored documents, and the trace says how many were cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from ops.models.choices import QuarantineReason, TraceStatus
from ops.pollers.traces.tree import MAX_DEPTH, Node, Tree, _num, tree_flatten  # noqa: F401 - re-exported

MAX_DOC_CHARS = 4_000_000  # one segment document; X-Ray's own limit per document sent is 64 kB
LAMBDA_FUNCTION = "AWS::Lambda::Function"
LAMBDA_SERVICE = "AWS::Lambda"
DOWNSTREAM_NAMESPACES = ("aws", "remote")


@dataclass
class Refused:
    reason: str
    key: str
    detail: str
    raw: str


@dataclass
class Call:
    subsegment_id: str
    service: str
    namespace: str
    operation: str
    duration_ms: float | None
    error: bool
    fault: bool
    throttle: bool
    http_status: int | None


@dataclass
class ParsedTrace:
    trace_id: str
    documents: list[tuple[str, dict]]  # (segment id, document as stored: bounded)
    start: float
    duration_ms: float
    response_ms: float | None
    status: str
    http_status: int | None
    version: str
    cold_start: bool
    init_ms: float | None
    request_id: str
    function_arns: list[str]  # unqualified ARNs of the Lambda function segments, for matching
    function_names: list[str]
    calls: list[Call]
    segment_count: int
    subsegment_count: int
    in_progress: bool
    notes: list[str]
    annotations: dict
    error_type: str
    cut: int  # nodes cut past the caps


def _unqualified(arn: str) -> str:
    # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) >= 7 and parts[5] == "function" else arn


def _qualifier(arn: str) -> str:
    parts = arn.split(":")
    return parts[7] if len(parts) >= 8 and parts[5] == "function" else ""


def trace_parse(
    trace_id: str, segments: Iterable[tuple[str, str]], *, max_nodes: int
) -> tuple[ParsedTrace | None, list[Refused]]:
    """Parse one trace; (None, refused) when no segment could be read."""
    refused: list[Refused] = []
    docs: list[tuple[str, dict]] = []
    for seg_id, text in segments:
        key = f"{trace_id}/{seg_id}"
        if len(text) > MAX_DOC_CHARS:
            detail = f"segment document of {len(text):,} characters"
            refused.append(Refused(QuarantineReason.TRACE_TOO_LARGE, key, detail, text))
            continue
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            refused.append(Refused(QuarantineReason.BAD_SEGMENT, key, f"not JSON: {str(exc)[:120]}", text))
            continue
        if not isinstance(doc, dict):
            detail = f"a JSON {type(doc).__name__}, not an object"
            refused.append(Refused(QuarantineReason.BAD_SEGMENT, key, detail, text))
            continue
        named = isinstance(doc.get("id"), str) and isinstance(doc.get("name"), str)
        if not named or _num(doc.get("start_time")) is None:
            refused.append(Refused(QuarantineReason.BAD_SEGMENT, key, "no id, name or numeric start_time", text))
            continue
        docs.append((seg_id or doc["id"], doc))
    if not docs:
        return None, refused
    tree, kept = tree_flatten(docs, max_nodes=max_nodes)
    if tree.cut:
        detail = f"{tree.cut:,} subsegments past the cap of {max_nodes:,}: stored without them"
        refused.append(Refused(QuarantineReason.TRACE_TOO_LARGE, trace_id, detail, ""))
    nodes = tree.nodes
    start = min(n.start for n in nodes)
    end = max((n.end for n in nodes if n.end is not None), default=start)
    entry = next((n for n in nodes if n.depth == 0), nodes[0])
    fn_segs = [n for n in nodes if n.segment and n.origin == LAMBDA_FUNCTION]
    svc_segs = [n for n in nodes if n.segment and n.origin == LAMBDA_SERVICE]
    arns, names = [], []
    for n in fn_segs + svc_segs:
        for arn in (n.aws.get("function_arn"), doc_arn(kept, n.node_id)):
            if isinstance(arn, str) and arn.startswith("arn:"):
                arns.append(_unqualified(arn))
        names.append(n.name)
    version = ""
    for n in fn_segs:
        q = _qualifier(doc_arn(kept, n.node_id) or "")
        if q:
            version = q
            break
        v = n.annotations.get("version")
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            version = str(v)[:128]
            break
    init = next((n for n in nodes if n.name == "Initialization" and not n.segment), None)
    cold_flag = any(n.annotations.get(k) is True for n in fn_segs for k in ("cold_start", "ColdStart"))
    request_id = ""
    for n in svc_segs + fn_segs:
        rid = n.aws.get("request_id")
        if isinstance(rid, str) and rid:
            request_id = rid[:64]
            break
    http_status = next((n.http_status for n in svc_segs + [entry] if n.http_status is not None), None)
    fault = any(n.fault for n in nodes) or (http_status is not None and http_status >= 500)
    error = any(n.error for n in nodes) or (http_status is not None and 400 <= http_status < 500 and http_status != 429)
    throttle = any(n.throttle for n in nodes) or http_status == 429
    if fault:
        status = TraceStatus.FAULT
    elif error:
        status = TraceStatus.ERROR
    else:
        status = TraceStatus.THROTTLE if throttle else TraceStatus.OK
    calls = _calls(nodes)
    exc = next((e for n in nodes for e in n.exceptions if e["type"] or e["message"]), None)
    annotations = {}
    for n in fn_segs or [entry]:
        items = list(n.annotations.items())[:50]
        scalars = {str(k)[:64]: v for k, v in items if isinstance(v, (str, int, float, bool))}
        annotations.update(scalars)
    return ParsedTrace(
        trace_id=trace_id,
        documents=kept,
        start=start,
        duration_ms=round((end - start) * 1000.0, 3),
        response_ms=entry.duration_ms,
        status=status,
        http_status=http_status,
        version=version,
        cold_start=init is not None or cold_flag,
        init_ms=round(init.duration_ms, 3) if init is not None and init.duration_ms is not None else None,
        request_id=request_id,
        function_arns=list(dict.fromkeys(arns)),
        function_names=list(dict.fromkeys(names)),
        calls=calls,
        segment_count=len(kept),
        subsegment_count=sum(1 for n in nodes if not n.segment),
        in_progress=tree.in_progress,
        notes=tree.notes,
        annotations=annotations,
        error_type=(exc["type"] or exc["message"])[:256] if exc else "",
        cut=tree.cut,
    ), refused


def doc_arn(kept: list[tuple[str, dict]], node_id: str) -> str | None:
    for _sid, doc in kept:
        if doc.get("id") == node_id:
            arn = doc.get("resource_arn")
            return arn if isinstance(arn, str) else None
    return None


def _calls(nodes: list[Node]) -> list[Call]:
    """Downstream calls: ``aws``/``remote`` subsegments not inside another one (an SDK call's own
    retries and HTTP child are the same call)."""
    out: list[Call] = []
    inside: set[str] = set()
    for n in nodes:  # depth-first: a parent comes before its children
        if n.parent_id in inside:
            inside.add(n.node_id)
            continue
        if n.segment or n.namespace not in DOWNSTREAM_NAMESPACES:
            continue
        inside.add(n.node_id)
        out.append(Call(
            subsegment_id=n.node_id,
            service=n.name,
            namespace=n.namespace,
            operation=n.operation,
            duration_ms=round(n.duration_ms, 3) if n.duration_ms is not None else None,
            error=n.error or (n.http_status is not None and 400 <= n.http_status < 500 and n.http_status != 429),
            fault=n.fault or (n.http_status is not None and n.http_status >= 500),
            throttle=n.throttle or n.http_status == 429,
            http_status=n.http_status,
        ))
    return out
