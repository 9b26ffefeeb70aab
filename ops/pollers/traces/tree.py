"""Segment documents → one list of nodes in waterfall order (depth-first, children by start
time), bounded: the poller's parse (ops.pollers.traces.parse) and the waterfall selector read
documents through the same ``tree_flatten``, so the page and the stored columns never disagree.

What it notices and keeps anyway goes to the notes: a segment still in progress (open end), a
parent id that names nothing in the trace (drawn at the top level), a child outside its parent
(clock skew, kept as reported), more nodes than ``max_nodes`` or nesting deeper than MAX_DEPTH
(the rest cut, and counted).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

MAX_DEPTH = 32
MAX_NOTES = 20
SKEW_TOLERANCE_S = 0.001  # X-Ray rounds times to the microsecond; a millisecond is not skew


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
