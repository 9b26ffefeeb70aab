"""Lambda log lines → REPORT records and error lines. Pure functions, no I/O.

Both of the platform's formats are read:
- plain text: ``REPORT RequestId: <uuid>\\tDuration: 12.34 ms\\tBilled Duration: 13 ms\\t
  Memory Size: 512 MB\\tMax Memory Used: 80 MB\\tInit Duration: 240.12 ms\\t`` (fields in any
  order; extra ones such as ``XRAY TraceId`` are ignored). SnapStart restores carry
  ``Restore Duration`` and ``Billed Restore Duration`` instead of ``Init Duration``; a failed
  invocation ends with ``Status: timeout`` or ``Status: error\\tError Type: Runtime.OutOfMemory``;
- JSON: ``{"type": "platform.report", "record": {"requestId": …, "status": …, "errorType": …,
  "metrics": {"durationMs": …, "billedDurationMs": …, "memorySizeMB": …, "maxMemoryUsedMB": …,
  "initDurationMs": …, "restoreDurationMs": …, "billedRestoreDurationMs": …}}}``, and JSON
  application lines (errors: ops.pollers.logs.errors).

Hostile input is bounded, never trusted: every regex is linear in its input and runs on at most
HEAD characters; a line over MAX_LINE is not decoded as JSON (a REPORT line is read from its
head); JSON nested deeper than MAX_JSON_DEPTH is refused before decoding; every number is checked
against physical bounds (a 15-minute timeout, 128–10,240 MB) before it can reach SQL. A line that
fails raises BadLine with its quarantine reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from ops.models.choices import QuarantineReason
from ops.pollers.logs.errors import HEAD, TIMEOUT_MESSAGE, ErrorLine, json_head_error, parse_json_error, parse_plain_error
from ops.rules.cost import gb_seconds

MAX_LINE = 64 * 1024
MAX_JSON_DEPTH = 64
# Lambda's longest timeout is 15 minutes; a REPORT may run a little over it (and an init or a
# restore is shorter still), so anything past 16 minutes is not a real measurement.
MAX_DURATION_MS = 16 * 60 * 1000.0
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10_240

REQUEST_ID = re.compile(r"RequestId:\s*(?P<id>[0-9a-fA-F-]{36})")
# Known names only, longest first, so no name can be read as part of another; values are at most
# 32 characters: one pass over the line whatever it holds.
REPORT_FIELD = re.compile(
    r"(?<!\w)(?P<name>Billed Restore Duration|Restore Duration|Billed Duration|Max Memory Used|Memory Size"
    r"|Init Duration|Duration): *(?P<value>[-+0-9.eE]{1,32}) *(?P<unit>ms|MB)\b"
)
REPORT_STATUS = re.compile(r"(?<!\w)Status: *(?P<status>[A-Za-z]{1,32})")
REPORT_ERROR_TYPE = re.compile(r"(?<!\w)Error Type: *(?P<type>[\w.]{1,200})")
_JSON_TOKENS = re.compile(r'[\[\]{}"\\]')


class BadLine(ValueError):
    """A line that looks like a REPORT/JSON record but cannot be read; the text says why."""

    def __init__(self, message: str, reason: str = QuarantineReason.UNREADABLE):
        super().__init__(message)
        self.reason = str(reason)


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: float | None
    memory_mb: int | None
    max_memory_mb: int | None
    init_ms: float | None
    restore_ms: float | None = None  # SnapStart: the restore replaces the init
    billed_restore_ms: float | None = None
    status: str = ""  # "", "success", "timeout", "error", "failure"
    error_type: str = ""

    @property
    def cold(self) -> bool:
        return self.init_ms is not None or self.restore_ms is not None

    @property
    def cold_ms(self) -> float:
        return (self.init_ms or 0.0) + (self.restore_ms or 0.0)

    @property
    def billed_total_ms(self) -> float:
        """Billed milliseconds, with a SnapStart restore's own billed time; Duration rounded up
        to the ms (AWS's rounding) when the line lacks Billed Duration."""
        billed = self.billed_ms if self.billed_ms is not None else math.ceil(self.duration_ms)
        return billed + (self.billed_restore_ms or 0.0)

    def billed_gb_s(self, *, memory_mb: int | None = None) -> float:
        """Billed seconds × memory GB, at the function's configured memory when the line lacks it."""
        return gb_seconds(memory_mb=self.memory_mb or memory_mb or 0, billed_ms=self.billed_total_ms)

    def status_error(self) -> ErrorLine | None:
        """The invocation's failure that this REPORT states (plain ``Status:`` or JSON status)."""
        if self.status == "timeout":
            # the runtime's own line's group: "Task timed out after <n> seconds"
            return ErrorLine("Task timed out", TIMEOUT_MESSAGE, self.request_id, kind="status")
        if self.status in {"error", "failure"}:
            etype = self.error_type or "Runtime.Error"
            return ErrorLine(etype[:200], etype[:300], self.request_id, kind="status")
        return None


def _num(value, name: str, *, low: float, high: float) -> float | None:
    """A finite number within [low, high], None when absent; BadLine(out_of_bounds) otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadLine(f"{name} is not a number", QuarantineReason.OUT_OF_BOUNDS)
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadLine(f"{name} is not a number: {str(value)[:40]!r}", QuarantineReason.OUT_OF_BOUNDS) from None
    if not math.isfinite(f) or not (low <= f <= high):
        raise BadLine(f"{name} {str(value)[:40]} outside {low:g}…{high:g}", QuarantineReason.OUT_OF_BOUNDS)
    return f


def _report(
    *, request_id, duration, billed, memory, used, init, restore, billed_restore, status="", error_type=""
) -> Report:
    d = _num(duration, "Duration", low=0, high=MAX_DURATION_MS)
    if d is None:
        raise BadLine("REPORT line without Duration")
    mem = _num(memory, "Memory Size", low=MIN_MEMORY_MB, high=MAX_MEMORY_MB)
    used_mb = _num(used, "Max Memory Used", low=0, high=MAX_MEMORY_MB)
    return Report(
        request_id=str(request_id or "")[:64],
        duration_ms=d,
        billed_ms=_num(billed, "Billed Duration", low=0, high=MAX_DURATION_MS),
        memory_mb=int(round(mem)) if mem is not None else None,
        max_memory_mb=int(round(used_mb)) if used_mb is not None else None,
        init_ms=_num(init, "Init Duration", low=0, high=MAX_DURATION_MS),
        restore_ms=_num(restore, "Restore Duration", low=0, high=MAX_DURATION_MS),
        billed_restore_ms=_num(billed_restore, "Billed Restore Duration", low=0, high=MAX_DURATION_MS),
        status=str(status or "").lower()[:32],
        error_type=str(error_type or "")[:200],
    )


def parse_plain_report(line: str) -> Report:
    head = line[:HEAD]
    m = REQUEST_ID.search(head)
    fields: dict[str, str] = {}
    for f in REPORT_FIELD.finditer(head):
        fields.setdefault(f.group("name"), f.group("value"))
    status = REPORT_STATUS.search(head)
    etype = REPORT_ERROR_TYPE.search(head)
    return _report(
        request_id=m.group("id") if m else "",
        duration=fields.get("Duration"),
        billed=fields.get("Billed Duration"),
        memory=fields.get("Memory Size"),
        used=fields.get("Max Memory Used"),
        init=fields.get("Init Duration"),
        restore=fields.get("Restore Duration"),
        billed_restore=fields.get("Billed Restore Duration"),
        status=status.group("status") if status else "",
        error_type=etype.group("type") if etype else "",
    )


def parse_json_report(doc: dict) -> Report:
    record = doc.get("record")
    if not isinstance(record, dict):
        raise BadLine("platform.report without a record")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise BadLine("platform.report without metrics")
    return _report(
        request_id=record.get("requestId"),
        duration=metrics.get("durationMs"),
        billed=metrics.get("billedDurationMs"),
        memory=metrics.get("memorySizeMB"),
        used=metrics.get("maxMemoryUsedMB"),
        init=metrics.get("initDurationMs"),
        restore=metrics.get("restoreDurationMs"),
        billed_restore=metrics.get("billedRestoreDurationMs"),
        status=record.get("status") or "",
        error_type=record.get("errorType") or "",
    )


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped); one regex pass."""
    depth = deepest = 0
    in_string = False
    skip_at = -1
    for m in _JSON_TOKENS.finditer(text):
        ch, at = m.group(), m.start()
        if at == skip_at:
            continue
        if in_string:
            if ch == "\\":
                skip_at = at + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def decode_json(text: str):
    """The decoded document, None when the text is not JSON; BadLine when too long or too deep."""
    if len(text) > MAX_LINE:
        raise BadLine(f"JSON line of {len(text):,} characters (over {MAX_LINE:,})", QuarantineReason.TOO_LONG)
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        raise BadLine(f"JSON nested deeper than {MAX_JSON_DEPTH}", QuarantineReason.TOO_DEEP)
    try:
        return json.loads(text)
    except RecursionError:
        raise BadLine("JSON nested too deep to decode", QuarantineReason.TOO_DEEP) from None
    except ValueError:
        return None


def parse_line(message: str) -> Report | ErrorLine | None:
    """What a log line is: a REPORT, an error, or nothing we keep (None). Raises BadLine (with its
    quarantine reason) for a line that cannot be read."""
    text = message.lstrip()
    if text.startswith("{"):
        if len(text) > MAX_LINE:  # not decoded; an error it states in its head still counts
            err = json_head_error(text)
            if err is not None:
                return err
        doc = decode_json(text)
        if isinstance(doc, dict):
            if doc.get("type") == "platform.report":
                return parse_json_report(doc)
            return parse_json_error(doc)
        compact = text[:HEAD].replace(" ", "")
        if '"type":"platform.' in compact or '"level"' in compact:
            raise BadLine("log line starts like JSON but is not valid JSON")
        # Not JSON after all: fall through to the plain-text rules.
    if text.startswith("REPORT "):
        return parse_plain_report(text)  # an over-long one is read from its head
    return parse_plain_error(text)


__all__ = ["BadLine", "ErrorLine", "MAX_LINE", "Report", "decode_json", "json_depth", "parse_line"]
