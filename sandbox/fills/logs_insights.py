"""A modest CloudWatch Logs Insights engine over moto's stored log events.

Commands: ``fields``, ``filter`` (``like /re/``, ``like "text"``, ``=``, ``!=``, ``<``, ``>``,
``ispresent()``, joined by ``and``/``or``, ``not``), ``parse`` (regex with named groups, or a
glob with ``as``), ``stats`` (count, sum, avg, min, max, pct ``by bin(Nm)`` and/or fields),
``sort``, ``limit``. A query naming a log group that does not exist fails with
ResourceNotFoundException, as in AWS. Lambda REPORT lines (text and JSON
``platform.report``) get the discovered fields @type, @requestId, @duration, @billedDuration,
@initDuration, @memorySize and @maxMemoryUsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .insights_stats import _fmt_ts, _split_commas, run_stats

_REPORT = re.compile(
    r"^REPORT RequestId: (?P<rid>\S+)\s+Duration: (?P<d>[\d.]+) ms\s+Billed Duration: (?P<b>\d+) ms\s+"
    r"Memory Size: (?P<m>\d+) MB\s+Max Memory Used: (?P<u>\d+) MB(?:\s+Init Duration: (?P<i>[\d.]+) ms)?")
_START = re.compile(r"^(START|END) RequestId: (\S+)")


def record_for(event: Any, group: str, stream: str) -> dict[str, Any]:
    msg = event.message
    rec: dict[str, Any] = {"@timestamp": event.timestamp, "@message": msg, "@logStream": stream, "@log": group,
                           "@ingestionTime": event.ingestion_time}
    m = _REPORT.match(msg)
    if m:
        rec.update({"@type": "REPORT", "@requestId": m.group("rid"), "@duration": float(m.group("d")),
                    "@billedDuration": float(m.group("b")), "@memorySize": float(m.group("m")),
                    "@maxMemoryUsed": float(m.group("u"))})
        if m.group("i"):
            rec["@initDuration"] = float(m.group("i"))
        return rec
    m = _START.match(msg)
    if m:
        rec.update({"@type": m.group(1), "@requestId": m.group(2)})
        return rec
    if msg.startswith("{"):
        try:
            doc = json.loads(msg)
        except (ValueError, RecursionError):  # AWS leaves such a line's fields undiscovered
            return rec
        if isinstance(doc, dict):
            try:
                _flatten(doc, "", rec)
            except RecursionError:
                return rec
            if doc.get("type") == "platform.report":
                r = doc.get("record") or {}
                mt = r.get("metrics") or {}
                rec.update({"@type": "REPORT", "@requestId": r.get("requestId"),
                            "@duration": mt.get("durationMs"), "@billedDuration": mt.get("billedDurationMs"),
                            "@memorySize": mt.get("memorySizeMB"), "@maxMemoryUsed": mt.get("maxMemoryUsedMB")})
                if mt.get("initDurationMs") is not None:
                    rec["@initDuration"] = mt.get("initDurationMs")
    return rec


def _flatten(doc: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(v, key + ".", out)
        else:
            out.setdefault(key, v)


# -- filter conditions --------------------------------------------------------------------------
_COND = re.compile(
    r"""^\s*(?:
      (?P<not>not\s+)?ispresent\((?P<pfield>[@\w.]+)\)|
      (?P<field>[@\w.]+)\s*(?P<op>not\s+like|like|=~|==|=|!=|>=|<=|>|<)\s*(?P<val>/(?:[^/\\]|\\.)*/[a-z]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[-\d.]+|\w+)
    )\s*$""", re.VERBOSE | re.IGNORECASE)


def _split_top(text: str, word: str) -> list[str]:
    parts, depth, cur, i, in_re, in_q = [], 0, "", 0, False, None
    pat = re.compile(rf"\s+{word}\s+", re.IGNORECASE)
    while i < len(text):
        ch = text[i]
        if in_q:
            cur += ch
            if ch == in_q and text[i - 1] != "\\":
                in_q = None
            i += 1
            continue
        if ch in "\"'":
            in_q = ch
        elif ch == "/" and not in_re and (cur.rstrip().lower().endswith("like") or cur.rstrip().endswith("=~")):
            in_re = True
        elif ch == "/" and in_re:
            in_re = False
        elif ch == "(" and not in_re:
            depth += 1
        elif ch == ")" and not in_re:
            depth -= 1
        if depth == 0 and not in_re:
            m = pat.match(text, i)
            if m:
                parts.append(cur)
                cur = ""
                i = m.end()
                continue
        cur += ch
        i += 1
    parts.append(cur)
    return parts


def compile_condition(text: str):
    text = text.strip()
    ors = _split_top(text, "or")
    if len(ors) > 1:
        subs = [compile_condition(p) for p in ors]
        return lambda r: any(s(r) for s in subs)
    ands = _split_top(text, "and")
    if len(ands) > 1:
        subs = [compile_condition(p) for p in ands]
        return lambda r: all(s(r) for s in subs)
    if text.startswith("(") and text.endswith(")"):
        return compile_condition(text[1:-1])
    if text.lower().startswith("not ") and not text.lower().startswith("not ispresent"):
        inner = compile_condition(text[4:])
        return lambda r: not inner(r)
    m = _COND.match(text)
    if not m:
        raise ValueError(f"unsupported filter: {text}")
    if m.group("pfield"):
        f, neg = m.group("pfield"), bool(m.group("not"))
        return lambda r: (r.get(f) is not None) != neg
    field, op, val = m.group("field"), m.group("op").lower(), m.group("val")
    if val.startswith("/"):
        body, _, flags = val[1:].rpartition("/")
        rx = re.compile(body, re.IGNORECASE if "i" in flags else 0)
        match = lambda r: rx.search(str(r.get(field, ""))) is not None  # noqa: E731
    elif val[0] in "\"'":
        s = val[1:-1]
        if op in ("like", "not like"):
            match = lambda r: s in str(r.get(field, ""))  # noqa: E731
        else:
            match = lambda r: str(r.get(field)) == s  # noqa: E731
    else:
        try:
            num: Any = float(val)
        except ValueError:
            num = val
        if op in ("=", "=="):
            match = lambda r: r.get(field) is not None and _num_eq(r.get(field), num)  # noqa: E731
        elif op == "!=":
            match = lambda r: not _num_eq(r.get(field), num)  # noqa: E731
        else:
            def match(r: dict[str, Any], op: str = op) -> bool:
                v = r.get(field)
                if v is None:
                    return False
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    return False
                return {">": v > num, "<": v < num, ">=": v >= num, "<=": v <= num}[op]
    if op == "not like":
        return lambda r: not match(r)
    if op == "!=" and (val.startswith("/") or val[0] in "\"'"):
        return lambda r: not match(r)
    return match


def _num_eq(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


# -- parse --------------------------------------------------------------------------------------
_PARSE = re.compile(r"""^\s*(?P<field>[@\w.]+)\s+(?:/(?P<re>(?:[^/\\]|\\.)*)/(?P<flags>[a-z]*)|"(?P<glob>(?:[^"\\]|\\.)*)"\s+as\s+(?P<names>.+))\s*$""")


def apply_parse(spec: str, records: list[dict[str, Any]]) -> None:
    """``parse @field /(?<name>…)/`` (named groups) or ``parse @field "a * b *" as x, y``: the
    captures become fields; a record that does not match keeps its other fields (as in AWS)."""
    m = _PARSE.match(spec)
    if not m:
        raise ValueError(f"unsupported parse: {spec}")
    field = m.group("field")
    if m.group("re") is not None:
        body = re.sub(r"\(\?<(?![=!])", "(?P<", m.group("re"))
        rx = re.compile(body, re.IGNORECASE if "i" in m.group("flags") else 0)
        names = list(rx.groupindex)
    else:
        parts = m.group("glob").split("*")
        rx = re.compile("(.*?)".join(re.escape(p) for p in parts) + ("" if parts[-1] else "$"))
        names = [n.strip() for n in m.group("names").split(",")]
    for r in records:
        hit = rx.search(str(r.get(field, "")))
        if not hit:
            continue
        values = [hit.group(n) for n in names] if m.group("re") is not None else list(hit.groups())
        for name, value in zip(names, values):
            if value is not None:
                r[name] = value


# -- stats --------------------------------------------------------------------------------------
def execute(log_groups: list[Any], query: str, start_s: int, end_s: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
    start_ms, end_ms = start_s * 1000, end_s * 1000 + 999
    records: list[dict[str, Any]] = []
    scanned = 0
    nbytes = 0
    for group in log_groups:
        for stream in list(group.streams.values()):
            for ev in stream.events:
                if start_ms <= ev.timestamp <= end_ms:
                    scanned += 1
                    nbytes += len(ev.message)
                    records.append(record_for(ev, group.name, stream.log_stream_name))
    records.sort(key=lambda r: r["@timestamp"], reverse=True)
    fields: list[tuple[str, str]] | None = None
    limit = None
    stats_done = False
    for cmd in [c.strip() for c in _split_pipes(query) if c.strip()]:
        word, _, rest = cmd.partition(" ")
        word = word.lower()
        if word == "filter":
            cond = compile_condition(rest)
            records = [r for r in records if cond(r)]
        elif word == "fields":
            fields = []
            for f in _split_commas(rest):
                parts = re.split(r"\s+as\s+", f, flags=re.I)
                fields.append((parts[0].strip(), (parts[1] if len(parts) > 1 else parts[0]).strip()))
        elif word == "stats":
            matched = len(records)
            records = run_stats(rest, records)
            stats_done = True
            fields = None
        elif word == "sort":
            m = re.match(r"^\s*([@\w.()*,]+)\s*(asc|desc)?\s*$", rest, re.I)
            if m:
                key, desc = m.group(1), (m.group(2) or "desc").lower() == "desc"
                records.sort(key=lambda r: (r.get(key) is None, r.get(key) if not isinstance(r.get(key), str) else r.get(key)), reverse=desc)
        elif word == "limit":
            limit = int(rest.strip())
        elif word in ("display",):
            fields = [(f.strip(), f.strip()) for f in _split_commas(rest)]
        elif word == "parse":
            apply_parse(rest, records)
        else:
            raise ValueError(f"unsupported command: {word}")
    if not stats_done:
        matched = len(records)
    limit = limit or (1000 if not stats_done else 10000)
    records = records[:limit]
    out = []
    for r in records:
        if stats_done:
            row = {k: v for k, v in r.items() if v is not None}
        else:
            row = {}
            for src, name in (fields or [("@timestamp", "@timestamp"), ("@message", "@message")]):
                if r.get(src) is not None:
                    row[name] = _fmt_ts(r[src]) if src == "@timestamp" else r[src]
            row["@ptr"] = f"{r['@log']}|{r['@logStream']}|{r['@timestamp']}"
        out.append(row)
    stats = {"recordsMatched": float(matched), "recordsScanned": float(scanned), "bytesScanned": float(nbytes)}
    return out, stats


def _split_pipes(query: str) -> list[str]:
    out, cur, in_re, in_q = [], "", False, None
    for i, ch in enumerate(query):
        if in_q:
            if ch == in_q:
                in_q = None
        elif ch in "\"'":
            in_q = ch
        elif ch == "/":
            in_re = not in_re
        elif ch == "|" and not in_re:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return out


def _fmt_val(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def install() -> None:
    from moto.logs import models as lmod
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.responses import LogsResponse
    from moto.core.utils import utcnow

    def __init__(self: Any, query_id: str, start_time: int, end_time: int, query: str, log_groups: list[Any]) -> None:
        self.query_id = query_id
        self.start_time = start_time
        self.end_time = end_time
        self.query = query
        self.log_group_names = [lg.name for lg in log_groups]
        self.create_time = utcnow()
        try:
            self.results, self.statistics = execute(log_groups, query, int(start_time), int(end_time))
        except ValueError as exc:
            raise InvalidParameterException(str(exc))
        self.status = "Complete"

    def to_result_json(self: Any) -> dict[str, Any]:
        return {
            "results": [[{"field": k, "value": _fmt_val(v)} for k, v in row.items()] for row in self.results],
            "statistics": self.statistics,
            "status": self.status,
        }

    lmod.LogQuery.__init__ = __init__
    lmod.LogQuery.to_result_json = to_result_json

    orig_get = lmod.LogsBackend.get_query_results

    def get_query_results(self: Any, query_id: str) -> Any:
        if query_id not in self.queries:
            raise ResourceNotFoundException("Query does not exist.")
        return orig_get(self, query_id)

    lmod.LogsBackend.get_query_results = get_query_results

    def stop_query(self: Any) -> str:
        qid = self._get_param("queryId")
        if qid not in self.logs_backend.queries:
            raise ResourceNotFoundException("Query does not exist.")
        return json.dumps({"success": False})

    LogsResponse.stop_query = stop_query
