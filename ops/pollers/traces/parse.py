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
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from ops.models.choices import QuarantineReason, TraceStatus

MAX_DOC_CHARS = 4_000_000  # one segment document; X-Ray's own limit per document sent is 64 kB
MAX_DEPTH = 32
MAX_NOTES = 20
SKEW_TOLERANCE_S = 0.001  # X-Ray rounds times to the microsecond; a millisecond is not skew
LAMBDA_FUNCTION = "AWS::Lambda::Function"
LAMBDA_SERVICE = "AWS::Lambda"
DOWNSTREAM_NAMESPACES = ("aws", "remote")


@dataclass
class Node:
    node_id: str
    parent_id: str
    name: str
    start: float
    end: float | None
    depth: int = 0
    segment: bool = False  # a segment (a document), not a subsegment
    origin: str = ""
    namespace: str = ""
    error: bool = False
    fault: bool = False
    throttle: bool = False
    http_status: int | None = None
    operation: str = ""
    annotations: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    exceptions: list = field(default_factory=list)  # [{"type", "message", "stack": [str]}]
    aws: dict = field(default_factory=dict)
    children: list = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        return None if self.end is None else max(0.0, (self.end - self.start) * 1000.0)


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


@dataclass
class Tree:
    nodes: list[Node]  # waterfall order
    notes: list[str]
    cut: int
    in_progress: bool


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _status(http: Any) -> int | None:
    if not isinstance(http, dict):
        return None
    resp = http.get("response")
    st = resp.get("status") if isinstance(resp, dict) else None
    return st if isinstance(st, int) and not isinstance(st, bool) and 0 <= st < 1000 else None


def _exceptions(doc: dict) -> list[dict]:
    cause = doc.get("cause")
    if not isinstance(cause, dict):
        return []
    out = []
    for exc in (cause.get("exceptions") or [])[:10] if isinstance(cause.get("exceptions"), list) else []:
        if not isinstance(exc, dict):
            continue
        stack = []
        for frame in (exc.get("stack") or [])[:50] if isinstance(exc.get("stack"), list) else []:
            if isinstance(frame, dict):
                stack.append(f"{frame.get('path', '?')}:{frame.get('line', '?')} in {frame.get('label', '?')}")
        out.append(
            {"type": str(exc.get("type") or "")[:256], "message": str(exc.get("message") or "")[:2000], "stack": stack}
        )
    return out


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _node(doc: dict, *, segment: bool, depth: int) -> Node | None:
    node_id, start, name = doc.get("id"), _num(doc.get("start_time")), doc.get("name")
    if not isinstance(node_id, str) or not node_id or start is None or not isinstance(name, str):
        return None
    # An in-progress segment may carry no end_time, or a placeholder one: either way it is open.
    end = None if doc.get("in_progress") is True else _num(doc.get("end_time"))
    aws = _dict(doc.get("aws"))
    http_req = _dict(_dict(doc.get("http")).get("request"))
    return Node(
        node_id=node_id[:64],
        parent_id=str(doc.get("parent_id") or "")[:64],
        name=name[:256],
        start=start,
        end=end,
        depth=depth,
        segment=segment,
        origin=str(doc.get("origin") or "")[:64],
        namespace=str(doc.get("namespace") or "")[:8],
        error=doc.get("error") is True,
        fault=doc.get("fault") is True,
        throttle=doc.get("throttle") is True,
        http_status=_status(doc.get("http")),
        operation=str(aws.get("operation") or http_req.get("method") or "")[:128],
        annotations=_dict(doc.get("annotations")),
        metadata=_dict(doc.get("metadata")),
        exceptions=_exceptions(doc),
        aws=aws,
    )


class _Budget:
    """Which nodes are kept: the first ``max_nodes`` in breadth-first order, so a huge subtree
    (thousands of SDK calls under Invocation) is cut at its leaves and never starves the
    trace's other segments, Initialization or Overhead. Iterative: a hostile document may be deep."""

    def __init__(self, docs: list[dict], max_nodes: int) -> None:
        self.allowed: set[int] = set()
        self.cut = 0
        self.deep = 0
        queue = deque((d, 0) for d in docs)
        while queue:
            d, depth = queue.popleft()
            keep = len(self.allowed) < max_nodes and depth <= MAX_DEPTH
            if keep:
                self.allowed.add(id(d))
            else:
                self.cut += 1
                self.deep += depth > MAX_DEPTH
            subs = d.get("subsegments")
            if isinstance(subs, list):
                queue.extend((sub, depth + 1) for sub in subs if isinstance(sub, dict))

    def kept(self, doc: dict) -> bool:
        return id(doc) in self.allowed


def _walk(doc: dict, parent: Node, depth: int, budget: _Budget, out: list[Node], notes: list[str]) -> list | None:
    """Subsegments of ``doc`` under ``parent``; returns the kept subsegment documents (bounded)."""
    subs = doc.get("subsegments")
    if not isinstance(subs, list):
        return None
    kept = []
    for sub in subs:
        if not isinstance(sub, dict) or not budget.kept(sub):
            continue
        node = _node(sub, segment=False, depth=depth)
        if node is None:
            _note(notes, f"a subsegment of {parent.name} has no id, name or start time: skipped")
            continue
        node.parent_id = parent.node_id
        parent.children.append(node)
        out.append(node)
        copy = {k: v for k, v in sub.items() if k != "subsegments"}
        inner = _walk(sub, node, depth + 1, budget, out, notes)
        if inner is not None:
            copy["subsegments"] = inner
        kept.append(copy)
    return kept


def _note(notes: list[str], text: str) -> None:
    if len(notes) < MAX_NOTES and text not in notes:
        notes.append(text)


def tree_flatten(docs: Iterable[tuple[str, dict]], *, max_nodes: int) -> tuple[Tree, list[tuple[str, dict]]]:
    """The documents as one tree in waterfall order, and the documents cut to ``max_nodes``.

    1. every document becomes a node, its subsegments (depth-first) children, up to the budget;
    2. each segment is hung under the node its ``parent_id`` names, wherever in the trace that is
       (a Lambda function segment's parent is the Lambda service segment);
    3. roots and every node's children are ordered by start time, then walked depth-first;
    4. children outside their parent's span are noted (clock skew), once per trace.
    """
    notes: list[str] = []
    ordered = sorted(docs, key=lambda d: _num(d[1].get("start_time")) or 0.0)
    budget = _Budget([doc for _sid, doc in ordered], max_nodes)
    segs: list[Node] = []
    every: list[Node] = []
    kept_docs: list[tuple[str, dict]] = []
    for seg_id, doc in ordered:
        if not budget.kept(doc):
            continue
        node = _node(doc, segment=True, depth=0)
        if node is None:
            continue
        segs.append(node)
        every.append(node)
        copy = {k: v for k, v in doc.items() if k != "subsegments"}
        inner = _walk(doc, node, 1, budget, every, notes)
        if inner is not None:
            copy["subsegments"] = inner
        kept_docs.append((seg_id, copy))
    by_id = {n.node_id: n for n in every}
    roots: list[Node] = []
    for i, seg in enumerate(segs):
        parent = by_id.get(seg.parent_id) if seg.parent_id else None
        if parent is None or parent is seg:
            if seg.parent_id and i > 0:
                _note(notes, f"segment {seg.name} ({seg.node_id}) names parent {seg.parent_id}, which is not in the "
                             "trace: drawn at the top level")
            roots.append(seg)
        else:
            parent.children.append(seg)
    nodes: list[Node] = []
    skewed = 0
    seen: set[int] = set()

    def visit(tops: list[Node]) -> None:
        nonlocal skewed
        stack = [(r, 0) for r in sorted(tops, key=lambda n: n.start, reverse=True)]
        while stack:
            node, depth = stack.pop()
            if id(node) in seen:  # a parent cycle (a names b, b names a) must not loop
                continue
            seen.add(id(node))
            node.depth = depth
            nodes.append(node)
            node.children.sort(key=lambda n: n.start)
            for child in node.children:
                if child.start < node.start - SKEW_TOLERANCE_S or (
                    child.end is not None and node.end is not None and child.end > node.end + SKEW_TOLERANCE_S
                ):
                    skewed += 1
            stack.extend((c, depth + 1) for c in reversed(node.children))

    visit(roots)
    cycle = [s for s in segs if id(s) not in seen]
    if cycle:  # segments that name each other as parents: none was a root, so each is one now
        _note(notes, f"{len(cycle)} segment(s) name each other as parents: drawn at the top level")
        for seg in cycle:
            for n in every:
                if seg in n.children:
                    n.children.remove(seg)
        visit(cycle)
    if skewed:
        _note(notes, f"{skewed} (sub)segment(s) start before or end after their parent (clock skew between hosts): "
                     "drawn as reported")
    if budget.cut:
        deep = budget.deep == budget.cut
        why = f"nested deeper than {MAX_DEPTH} levels" if deep else f"past the cap of {max_nodes:,}"
        _note(notes, f"{budget.cut:,} subsegment(s) {why} were not stored")
    in_progress = any(n.end is None for n in nodes)
    if in_progress:
        _note(notes, "in progress when fetched: some segments have no end time yet")
    return Tree(nodes=nodes, notes=notes, cut=budget.cut, in_progress=in_progress), kept_docs


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
