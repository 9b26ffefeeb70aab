"""X-Ray GetTraceSummaries computed from the stored segment documents, with FilterExpression.

Supported filter expressions: ``error``, ``fault``, ``throttle`` (bare or ``= true|false``),
``responsetime``/``duration`` comparisons, ``http.status``/``http.url``/``http.method``,
``annotation.KEY <op> value``, ``service("name")`` (optionally ``{ fault }`` / ``{ error }``),
combined with AND/OR/NOT (``&&``, ``||``, ``!``) and parentheses.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

PAGE_SIZE = 100

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*")|
    (?P<num>-?\d+(?:\.\d+)?)|
    (?P<op>>=|<=|!=|==|=|<|>|&&|\|\||!|\(|\)|\{|\}|,|:)|
    (?P<word>[A-Za-z_@][A-Za-z0-9_.@:-]*)
)""", re.VERBOSE)


def tokenize(expr: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"Invalid filter expression near: {expr[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "str":
            val = json.loads(val)
        elif kind == "num":
            val = float(val)
        elif kind == "word":
            up = val.upper()
            if up in ("AND", "OR", "NOT"):
                kind, val = "op", {"AND": "&&", "OR": "||", "NOT": "!"}[up]
            elif up in ("CONTAINS", "BEGINSWITH", "ENDSWITH"):
                kind, val = "op", up
            elif val.lower() in ("true", "false"):
                kind, val = "bool", val.lower() == "true"
        out.append((kind, val))
    return out


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return op == "!="
    if isinstance(left, list):
        return any(_compare(v, op, right) for v in left)
    try:
        if op in ("=", "=="):
            return left == right or str(left) == str(right) if not isinstance(right, float) else float(left) == right
        if op == "!=":
            return not _compare(left, "=", right)
        if op == "CONTAINS":
            return str(right) in str(left)
        if op == "BEGINSWITH":
            return str(left).startswith(str(right))
        if op == "ENDSWITH":
            return str(left).endswith(str(right))
        lv, rv = float(left), float(right)
        return {"<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv}[op]
    except (TypeError, ValueError, KeyError):
        return False


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ValueError("Unexpected end of filter expression")
        self.i += 1
        return tok

    def expect(self, val: Any) -> None:
        tok = self.take()
        if tok[1] != val:
            raise ValueError(f"Expected {val!r} in filter expression, got {tok[1]!r}")

    def parse(self) -> Any:
        node = self.or_()
        if self.peek() is not None:
            raise ValueError(f"Unexpected token {self.peek()[1]!r} in filter expression")
        return node

    def or_(self) -> Any:
        node = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.not_()
        while self.peek() == ("op", "&&"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.not_())
        return self.atom()

    def atom(self) -> Any:
        kind, val = self.take()
        if (kind, val) == ("op", "("):
            node = self.or_()
            self.expect(")")
            return node
        if kind != "word":
            raise ValueError(f"Unexpected token {val!r} in filter expression")
        key = val.lower()
        if key in ("service", "edge", "id") and self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                k2, v2 = self.take()
                if k2 in ("str", "num"):
                    args.append(v2)
            self.expect(")")
            inner = None
            if self.peek() == ("op", "{"):
                self.take()
                inner = self.or_()
                self.expect("}")
            return ("service", args[0] if args else None, inner)
        nxt = self.peek()
        if nxt and nxt[0] == "op" and nxt[1] in ("=", "==", "!=", "<", "<=", ">", ">=", "CONTAINS", "BEGINSWITH", "ENDSWITH"):
            op = self.take()[1]
            _rk, rv = self.take()
            return ("cmp", val, op, rv)
        return ("flag", val)


def evaluate(node: Any, facts: dict[str, Any], scope: dict[str, Any] | None = None) -> bool:
    kind = node[0]
    if kind == "or":
        return evaluate(node[1], facts, scope) or evaluate(node[2], facts, scope)
    if kind == "and":
        return evaluate(node[1], facts, scope) and evaluate(node[2], facts, scope)
    if kind == "not":
        return not evaluate(node[1], facts, scope)
    if kind == "service":
        name, inner = node[1], node[2]
        services = facts["services"]
        targets = [s for n, s in services.items() if name is None or n == name]
        if not targets:
            return False
        if inner is None:
            return True
        return any(evaluate(inner, facts, s) for s in targets)
    src = scope if scope is not None else facts
    if kind == "flag":
        return bool(_lookup(src, node[1]))
    if kind == "cmp":
        return _compare(_lookup(src, node[1]), node[2], node[3])
    raise ValueError("bad filter node")


def _lookup(facts: dict[str, Any], key: str) -> Any:
    k = key.lower()
    if k.startswith("annotation.") or k.startswith("annotation["):
        name = key.split(".", 1)[1] if "." in key else key[11:-1]
        return facts.get("annotations", {}).get(name)
    return facts.get(k)


# -- summaries ------------------------------------------------------------------------------------
def _walk(doc: dict[str, Any]):
    yield doc
    for sub in doc.get("subsegments") or []:
        yield from _walk(sub)


def _annotation_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"BooleanValue": v}
    if isinstance(v, (int, float)):
        return {"NumberValue": v}
    return {"StringValue": str(v)}


def summarise(trace_id: str, segments: list[Any], account: str) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = []
    for seg in segments:
        try:
            docs.append(json.loads(seg.raw))
        except (TypeError, ValueError):
            continue
    starts = [d["start_time"] for d in docs if "start_time" in d]
    ends = [d["end_time"] for d in docs if d.get("end_time")]
    start, end = min(starts), max(ends) if ends else min(starts)
    roots = [d for d in docs if not d.get("parent_id")] or docs
    root = min(roots, key=lambda d: d["start_time"])
    has_error = has_fault = has_throttle = False
    annotations: dict[str, Any] = {}
    services: dict[str, dict[str, Any]] = {}
    service_ids = []
    for d in docs:
        svc = services.setdefault(d["name"], {"error": False, "fault": False, "throttle": False,
                                              "annotations": {}, "type": d.get("origin")})
        for node in _walk(d):
            e, f, t = node.get("error") is True, node.get("fault") is True, node.get("throttle") is True
            has_error |= e
            has_fault |= f
            has_throttle |= t
            svc["error"] |= e
            svc["fault"] |= f
            svc["throttle"] |= t
            for k, v in (node.get("annotations") or {}).items():
                annotations.setdefault(k, v)
                svc["annotations"].setdefault(k, v)
        service_ids.append({"Name": d["name"], "Names": [d["name"]], "AccountId": account,
                            "Type": d.get("origin", "")})
    http = root.get("http") or {}
    status = (http.get("response") or {}).get("status")
    response_time = (root.get("end_time") or end) - root["start_time"]
    summary: dict[str, Any] = {
        "Id": trace_id,
        "StartTime": start,
        "Duration": round(end - start, 3),
        "ResponseTime": round(response_time, 3),
        "HasError": has_error,
        "HasFault": has_fault,
        "HasThrottle": has_throttle,
        "IsPartial": False,
        "Http": {k: v for k, v in {"HttpURL": (http.get("request") or {}).get("url"),
                                    "HttpStatus": status,
                                    "HttpMethod": (http.get("request") or {}).get("method")}.items() if v is not None},
        "Annotations": {k: [{"AnnotationValue": _annotation_value(v), "ServiceIds": []}] for k, v in annotations.items()},
        "ServiceIds": service_ids,
        "EntryPoint": {"Name": root["name"], "Names": [root["name"]], "AccountId": account,
                       "Type": root.get("origin", "")},
        "Users": [],
        "ResourceARNs": [{"ARN": d["resource_arn"]} for d in docs if d.get("resource_arn")],
        "Revision": 1,
    }
    facts = {"error": has_error, "fault": has_fault, "throttle": has_throttle,
             "responsetime": response_time, "duration": end - start,
             "http.status": status, "http.url": summary["Http"].get("HttpURL"),
             "http.method": summary["Http"].get("HttpMethod"),
             "annotations": annotations, "services": services}
    return summary, facts


def get_trace_summaries(backend: Any, account: str, params: dict[str, Any]) -> dict[str, Any]:
    start, end = float(params["StartTime"]), float(params["EndTime"])
    expr = params.get("FilterExpression")
    tree = _Parser(tokenize(expr)).parse() if expr else None
    coll = backend._segment_collection
    cache = coll.__dict__.setdefault("sandbox_summaries", {})
    matched = []
    for tid, trace in list(coll._traces.items()):
        if not trace["finished"]:
            continue
        # moto keeps the earliest segment start as a naive local datetime: cheap window check first
        if not (start - 1 <= trace["start_date"].timestamp() <= end + 1):
            continue
        segs = trace["segments"]
        hit = cache.get(tid)
        if hit is None or hit[0] != len(segs):
            hit = cache[tid] = (len(segs), *summarise(tid, segs, account))
        _n, summary, facts = hit
        if not (start <= summary["StartTime"] <= end):
            continue
        if tree is not None and not evaluate(tree, facts):
            continue
        matched.append(summary)
    matched.sort(key=lambda s: (s["StartTime"], s["Id"]))
    offset = 0
    if params.get("NextToken"):
        offset = int(base64.b64decode(params["NextToken"]).decode())
    page = matched[offset:offset + PAGE_SIZE]
    out: dict[str, Any] = {"TraceSummaries": page, "TracesProcessedCount": len(matched),
                           "ApproximateTime": end}
    if offset + PAGE_SIZE < len(matched):
        out["NextToken"] = base64.b64encode(str(offset + PAGE_SIZE).encode()).decode()
    return out


def install() -> None:
    from moto.xray.responses import XRayResponse

    def trace_summaries(self: Any) -> Any:
        params = self.request_params
        for p in ("StartTime", "EndTime"):
            if params.get(p) is None:
                return json.dumps({"__type": "MissingParameter", "message": f"Parameter {p} is missing"}), {"status": 400}
        try:
            result = get_trace_summaries(self.xray_backend, self.current_account, params)
        except ValueError as exc:
            return (json.dumps({"__type": "InvalidRequestException", "message": str(exc)}),
                    {"status": 400, "x-amzn-ErrorType": "InvalidRequestException"})
        return json.dumps(result)

    XRayResponse.trace_summaries = trace_summaries

    from moto.xray.models import XRayBackend

    def get_trace_ids(self: Any, trace_ids: list[str]) -> dict[str, Any]:
        traces, unprocessed = self._segment_collection.get_trace_ids(trace_ids)
        result: dict[str, Any] = {"Traces": [], "UnprocessedTraceIds": unprocessed}
        for trace in traces:
            # A document that is not JSON (stored by another writer) is returned as stored, as
            # X-Ray does; the duration comes from the readable ones.
            docs = []
            for s in trace["segments"]:
                try:
                    d = json.loads(s.raw)
                except (TypeError, ValueError):
                    continue
                if isinstance(d, dict) and isinstance(d.get("start_time"), (int, float)):
                    docs.append(d)
            st = min((d["start_time"] for d in docs), default=0.0)
            en = max((d.get("end_time") or st for d in docs), default=st)
            result["Traces"].append({"Id": trace["trace_id"], "Duration": round(en - st, 3),
                                     "Segments": [{"Id": s.id, "Document": s.raw} for s in trace["segments"]]})
        return result

    XRayBackend.get_trace_ids = get_trace_ids
