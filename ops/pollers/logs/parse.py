"""Lambda log lines → REPORT records and error lines. Pure functions, no I/O.

Both of the platform's formats are read:
- plain text: ``REPORT RequestId: <uuid>\\tDuration: 12.34 ms\\tBilled Duration: 13 ms\\t
  Memory Size: 512 MB\\tMax Memory Used: 80 MB\\tInit Duration: 240.12 ms\\t`` (extra fields such
  as ``XRAY TraceId`` are ignored; fields may come in any order);
- JSON: ``{"time": …, "type": "platform.report", "record": {"requestId": …, "metrics":
  {"durationMs": …, "billedDurationMs": …, "memorySizeMB": …, "maxMemoryUsedMB": …,
  "initDurationMs": …}}}``, and JSON application lines with ``"level": "ERROR"``.

Error lines: ``[ERROR]`` (Python), ``\\tERROR\\t`` (Node, incl. ``Invoke Error`` /
``Uncaught Exception`` with a JSON body), ``Task timed out after``, ``Runtime exited``,
``Runtime.*`` errors, Python tracebacks. Each gets a type and a normalised message (first line,
uuids, timestamps, hex, long ids and numbers replaced by placeholders) whose hash is the group
signature, so "Order 1234 not found" and "Order 98 not found" are one group.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass

from ops.rules.cost import gb_seconds

UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
ISO_TS = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
LONG_ID = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{12,}\b")
NUMBER = re.compile(r"(?<![A-Za-z<])[-+]?\d+(?:\.\d+)?")
SPACES = re.compile(r"\s+")
REPORT_FIELD = re.compile(r"(?P<name>[A-Za-z][A-Za-z ]*?):\s*(?P<value>-?[\d.]+)\s*(?P<unit>ms|MB)\b")
REQUEST_ID = re.compile(r"RequestId:\s*(?P<id>[0-9a-fA-F-]{36})")
TYPED = re.compile(r"^(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Fault|Exit|Timeout)|Runtime\.\w+):\s*(?P<msg>.*)$", re.S)
RUNTIME_TYPE = re.compile(r"\bRuntime\.[A-Za-z]+\b")
TIMED_OUT = re.compile(r"Task timed out after\s+[\d.]+\s+seconds")
MAX_MESSAGE = 300


class BadLine(ValueError):
    """A line that looks like a REPORT/JSON record but cannot be read; the text says why."""


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: float | None
    memory_mb: int | None
    max_memory_mb: int | None
    init_ms: float | None

    def billed_gb_s(self, *, memory_mb: int | None = None) -> float:
        """Billed seconds × memory GB; falls back to Duration rounded up to the ms (AWS's
        rounding) and the function's configured memory when the line lacks them."""
        billed = self.billed_ms if self.billed_ms is not None else math.ceil(self.duration_ms)
        return gb_seconds(memory_mb=self.memory_mb or memory_mb or 0, billed_ms=billed)


@dataclass(frozen=True)
class ErrorLine:
    error_type: str
    message: str  # normalised
    request_id: str

    @property
    def signature(self) -> str:
        return signature(self.error_type, self.message)


def signature(error_type: str, message: str) -> str:
    return hashlib.sha1(f"{error_type}\n{message}".encode()).hexdigest()


def normalise(text: str) -> str:
    """The first line of an error message with variable parts replaced by placeholders."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    out = ISO_TS.sub("<ts>", first)
    out = UUID.sub("<uuid>", out)
    out = HEX.sub("<hex>", out)
    out = LONG_ID.sub("<id>", out)
    out = NUMBER.sub("<n>", out)
    out = SPACES.sub(" ", out).strip()
    return out[:MAX_MESSAGE]


def _num(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(value) -> int | None:
    f = _num(value)
    return int(round(f)) if f is not None else None


def parse_plain_report(line: str) -> Report:
    m = REQUEST_ID.search(line)
    fields = {f.group("name").strip(): f.group("value") for f in REPORT_FIELD.finditer(line)}
    duration = _num(fields.get("Duration"))
    if duration is None:
        raise BadLine("REPORT line without Duration")
    return Report(
        request_id=m.group("id") if m else "",
        duration_ms=duration,
        billed_ms=_num(fields.get("Billed Duration")),
        memory_mb=_int(fields.get("Memory Size")),
        max_memory_mb=_int(fields.get("Max Memory Used")),
        init_ms=_num(fields.get("Init Duration")),
    )


def parse_json_report(doc: dict) -> Report:
    record = doc.get("record")
    if not isinstance(record, dict):
        raise BadLine("platform.report without a record")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise BadLine("platform.report without metrics")
    duration = _num(metrics.get("durationMs"))
    if duration is None:
        raise BadLine("platform.report without durationMs")
    return Report(
        request_id=str(record.get("requestId") or ""),
        duration_ms=duration,
        billed_ms=_num(metrics.get("billedDurationMs")),
        memory_mb=_int(metrics.get("memorySizeMB")),
        max_memory_mb=_int(metrics.get("maxMemoryUsedMB")),
        init_ms=_num(metrics.get("initDurationMs")),
    )


def _request_id(line: str) -> str:
    m = REQUEST_ID.search(line)
    if m:
        return m.group("id")
    m = UUID.search(line)
    return m.group(0) if m else ""


def _typed(text: str, default_type: str) -> tuple[str, str]:
    text = text.strip()
    m = TYPED.match(text)
    if m:
        return m.group("type"), m.group("msg")
    return default_type, text


def _error_from_json_body(body: str) -> tuple[str, str] | None:
    start = body.find("{")
    if start < 0:
        return None
    try:
        doc = json.loads(body[start:])
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return str(doc.get("errorType") or "Error"), str(doc.get("errorMessage") or "")


def parse_plain_error(line: str) -> ErrorLine | None:
    rid = _request_id(line)
    timed_out = TIMED_OUT.search(line)
    if timed_out:
        return ErrorLine("Task timed out", normalise(timed_out.group(0)), rid)
    if "Runtime exited" in line:
        rt = RUNTIME_TYPE.search(line)
        msg = line[line.index("Runtime exited") :]
        return ErrorLine(rt.group(0) if rt else "Runtime.ExitError", normalise(msg), rid)
    if line.startswith("[ERROR]"):
        rest = line[len("[ERROR]") :]
        if rest.startswith("\t"):
            # [ERROR]\t<timestamp>\t<request id>\t<message>  (Python's logger format)
            parts = rest.split("\t", 3)
            rest = parts[3] if len(parts) == 4 else rest
        etype, msg = _typed(rest, "ERROR")
        return ErrorLine(etype, normalise(msg), rid)
    if "\tERROR\t" in line:
        # <timestamp>\t<request id>\tERROR\t<message>  (Node)
        body = line.split("\tERROR\t", 1)[1]
        if body.startswith(("Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection")):
            parsed = _error_from_json_body(body)
            if parsed:
                return ErrorLine(parsed[0], normalise(parsed[1]), rid)
        etype, msg = _typed(body, "ERROR")
        return ErrorLine(etype, normalise(msg), rid)
    if line.startswith("Traceback (most recent call last)"):
        last = [ln for ln in line.strip().splitlines() if ln.strip()][-1]
        etype, msg = _typed(last, "Traceback")
        return ErrorLine(etype, normalise(msg), rid)
    rt = RUNTIME_TYPE.search(line)
    if rt and ("Error" in line or "error" in line):
        etype, msg = _typed(line[rt.start() :], rt.group(0))
        return ErrorLine(etype, normalise(msg), rid)
    return None


def parse_json_error(doc: dict) -> ErrorLine | None:
    kind = doc.get("type")
    record = doc.get("record") if isinstance(doc.get("record"), dict) else {}
    if kind in {"platform.report", "platform.runtimeDone"} and record.get("status") in {"timeout", "error", "failure"}:
        rid = str(record.get("requestId") or "")
        if record.get("status") == "timeout":
            return ErrorLine("Task timed out", "Task timed out", rid)
        etype = str(record.get("errorType") or "Runtime.Error")
        return ErrorLine(etype, normalise(etype), rid)
    level = str(doc.get("level") or doc.get("levelname") or "").upper()
    if level not in {"ERROR", "FATAL", "CRITICAL"}:
        return None
    msg = doc.get("message")
    rid = str(doc.get("requestId") or doc.get("AWSRequestId") or "")
    if isinstance(msg, dict):  # Python runtime, unhandled exception in JSON format
        rid = rid or str(msg.get("requestId") or "")
        return ErrorLine(str(msg.get("errorType") or "ERROR"), normalise(str(msg.get("errorMessage") or "")), rid)
    if doc.get("errorType"):
        return ErrorLine(str(doc["errorType"]), normalise(str(doc.get("errorMessage") or msg or "")), rid)
    etype, text = _typed(str(msg or ""), "ERROR")
    return ErrorLine(etype, normalise(text), rid)


def parse_line(message: str) -> Report | ErrorLine | None:
    """What a log line is: a REPORT, an error, or nothing we keep (None). Raises BadLine for a
    REPORT or JSON record that cannot be read."""
    text = message.lstrip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            if doc.get("type") == "platform.report":
                # A report with status timeout/error is also an error: see json_error_of_report.
                return parse_json_report(doc)
            return parse_json_error(doc)
        if '"type":"platform.' in text.replace(" ", "") or '"level"' in text:
            raise BadLine("log line starts like JSON but is not valid JSON")
        # Not JSON after all: fall through to the plain-text rules.
    if text.startswith("REPORT RequestId:") or text.startswith("REPORT "):
        return parse_plain_report(text)
    return parse_plain_error(text)


def json_error_of_report(message: str) -> ErrorLine | None:
    """The error a JSON platform.report carries (status timeout/error), if any."""
    text = message.lstrip()
    if not text.startswith("{") or "platform.report" not in text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return parse_json_error(doc) if isinstance(doc, dict) else None
