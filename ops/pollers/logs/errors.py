"""Error lines of every Lambda runtime → (type, normalised message, request id). Pure, no I/O.

Recognised (a corpus of real-format lines per runtime is in tests/ops/pollers/logs/corpus.py):
- platform: ``Task timed out after N seconds``, ``Runtime exited with error: …`` / ``Runtime.*``
  (the invocation's outcome: kind "platform", so the store counts one per request id);
- Python: ``[ERROR]\\t<ts>\\t<request id>\\t<Type>: <message>``, bare tracebacks (type from the
  last line);
- Node.js: ``<ts>\\t<request id>\\tERROR\\t…``, incl. ``Invoke Error`` / ``Uncaught Exception``
  with a JSON body;
- Java: ``pkg.Type: message`` followed by ``\\tat …`` frames and ``Caused by:`` (one event; the
  group is the outermost exception), log4j's ``<ts> <request id> ERROR Class - message``;
- Go: ``panic: …`` (and ``fatal error: …``) with its goroutine dump;
- .NET: ``<ts>\\t<request id>\\tfail\\t…`` (and ``crit``) and the console logger's
  ``fail: Category[0]`` blocks; the type is the ``System.*Exception`` when one is named;
- Ruby: Logger's ``E, [<ts> #pid] ERROR -- : …`` and ``file.rb:N:in 'm': message (Type)``;
- JSON: ``"level"``/``"log_level"`` ERROR, FATAL or CRITICAL, and the runtimes' own
  ``{"errorType": …, "errorMessage": …}`` (Go, Ruby, Java and custom runtimes print these).
Every regex runs on the line's first HEAD characters (or, for a traceback, its last), so a long
line costs no more than a short one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

HEAD = 8 * 1024  # an error's type and first line are near its start (a traceback's near its end)
MAX_MESSAGE = 300

UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
ISO_TS = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
LONG_ID = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{12,}\b")
NUMBER = re.compile(r"(?<![A-Za-z<])[-+]?\d+(?:\.\d+)?")
SPACES = re.compile(r"\s+")
REQUEST_ID = re.compile(r"RequestId:\s*(?P<id>[0-9a-fA-F-]{36})")
TYPED = re.compile(
    r"^(?P<type>(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Fault|Exit|Timeout|Throwable)|Runtime\.\w+)"
    r"(?::\s*(?P<msg>.*))?$",
    re.S,
)
RUNTIME_TYPE = re.compile(r"\bRuntime\.[A-Za-z]+\b")
TIMED_OUT = re.compile(r"Task timed out after\s+[\d.]+\s+seconds")
JAVA_FRAME = re.compile(r"\n\s+at [\w$.<>]+\(|\nCaused by: ")
LOG4J = re.compile(r"^\S+(?: \S+)?\s+[0-9a-fA-F-]{36}\s+(?:ERROR|FATAL)\s+(?P<cls>[\w$.]+)(?::\d+)?\s+-\s+(?P<msg>.*)", re.S)
GO_PANIC = re.compile(r"^(?P<type>panic|fatal error): (?P<msg>[^\n]*)")
DOTNET_TAB = re.compile(r"\t(?:fail|crit)\t")
DOTNET_CONSOLE = re.compile(r"^(?:fail|crit): (?P<cat>[^\n\[]*)(?:\[\d+\])?[ \t]*\n?(?P<msg>.*)", re.S)
DOTNET_TYPE = re.compile(r"\b(?P<type>(?:[A-Z]\w*\.)+\w*Exception)(?::\s*(?P<msg>[^\n]*))?")
RUBY_LOGGER = re.compile(r"^[EF], \[[^\]]{0,64}\]\s+(?:ERROR|FATAL) -- [^:\n]{0,200}: (?P<msg>.*)", re.S)
RUBY_RAISE = re.compile(r"^[^\s:]{1,500}:\d+:in [`'][^'\n]{0,200}': (?P<msg>[^\n]*) \((?P<type>[A-Z][\w:]*)\)$", re.M)
RUBY_CLASS = re.compile(r"^(?P<type>[A-Z]\w*(?:::[A-Z]\w*)+): (?P<msg>.*)", re.S)  # PG::ConnectionBad: …
WRAPPED_TYPE = re.compile(r"^Function<(?P<inner>[\w:.]+)>$")  # Ruby's errorType for a handler's exception
ERROR_LEVELS = {"ERROR", "FATAL", "CRITICAL"}
TIMEOUT_MESSAGE = "Task timed out after <n> seconds"  # normalised, whichever line says it


@dataclass(frozen=True)
class ErrorLine:
    error_type: str
    message: str  # normalised
    request_id: str
    # "line": an application's error line; "platform": the runtime's line about the invocation
    # (timeout, runtime exit); "status": the invocation's outcome as REPORT/runtimeDone states it
    kind: str = "line"

    @property
    def signature(self) -> str:
        return signature(self.error_type, self.message)


def signature(error_type: str, message: str) -> str:
    return hashlib.sha1(f"{error_type}\n{message}".encode()).hexdigest()


def normalise(text: str) -> str:
    """The first line of an error message with variable parts replaced by placeholders."""
    text = text[:HEAD].strip()
    first = text.splitlines()[0] if text else ""
    first = first[: MAX_MESSAGE * 4]
    out = ISO_TS.sub("<ts>", first)
    out = UUID.sub("<uuid>", out)
    out = HEX.sub("<hex>", out)
    out = LONG_ID.sub("<id>", out)
    out = NUMBER.sub("<n>", out)
    out = SPACES.sub(" ", out).strip()
    return out[:MAX_MESSAGE]


def request_id_of(line: str) -> str:
    m = REQUEST_ID.search(line)
    if m:
        return m.group("id")
    m = UUID.search(line)
    return m.group(0) if m else ""


def _unwrap(error_type: str) -> str:
    m = WRAPPED_TYPE.match(error_type)
    return m.group("inner") if m else error_type


def _error(etype: str, msg: str, rid: str) -> ErrorLine:
    etype = _unwrap(etype)[:200]
    return ErrorLine(etype, normalise(msg), rid, kind="platform" if etype.startswith(("Runtime.", "Sandbox.")) else "line")


def _typed(text: str, default_type: str) -> tuple[str, str]:
    text = text.strip()
    first = text.split("\n", 1)[0]
    m = TYPED.match(first)
    if m:
        return m.group("type"), m.group("msg") or ""
    return default_type, text


def _error_from_json_body(body: str) -> tuple[str, str] | None:
    start = body.find("{")
    if start < 0:
        return None
    try:
        doc = json.loads(body[start:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    return str(doc.get("errorType") or "Error"), str(doc.get("errorMessage") or "")


def parse_plain_error(line: str) -> ErrorLine | None:
    head = line[:HEAD]
    rid = request_id_of(head)
    timed_out = TIMED_OUT.search(head)
    if timed_out:
        return ErrorLine("Task timed out", normalise(timed_out.group(0)), rid, kind="platform")
    if "Runtime exited" in head:
        rt = RUNTIME_TYPE.search(head)
        msg = head[head.index("Runtime exited") :]
        return ErrorLine(rt.group(0) if rt else "Runtime.ExitError", normalise(msg), rid, kind="platform")
    if head.startswith("[ERROR]"):  # Python: [ERROR]\t<timestamp>\t<request id>\t<message>
        rest = head[len("[ERROR]") :]
        if rest.startswith("\t"):
            parts = rest.split("\t", 3)
            rest = parts[3] if len(parts) == 4 else rest
        return _error(*_typed(rest, "ERROR"), rid)
    if "\tERROR\t" in head or "\tFATAL\t" in head:  # Node: <timestamp>\t<request id>\tERROR\t<message>
        body = re.split(r"\t(?:ERROR|FATAL)\t", head, maxsplit=1)[1]
        if body.startswith(("Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection")):
            parsed = _error_from_json_body(line)
            if parsed:
                return _error(parsed[0], parsed[1], rid)
        return _error(*_typed(body, "ERROR"), rid)
    if DOTNET_TAB.search(head):  # .NET ILambdaLogger: <timestamp>\t<request id>\tfail\t<message>
        body = DOTNET_TAB.split(head, maxsplit=1)[1]
        m = DOTNET_TYPE.search(body)
        if m:
            return _error(m.group("type"), m.group("msg") or "", rid)
        return _error(*_typed(body, "fail"), rid)
    m = DOTNET_CONSOLE.match(head)
    if m:  # .NET console logger: "fail: Category[0]\n      message"
        t = DOTNET_TYPE.search(m.group("msg"))
        if t:
            return _error(t.group("type"), t.group("msg") or "", rid)
        return _error(m.group("cat").strip() or "fail", m.group("msg"), rid)
    if head.startswith("Traceback (most recent call last)"):
        tail = line[-HEAD:]
        last = [ln for ln in tail.strip().splitlines() if ln.strip()][-1]
        return _error(*_typed(last, "Traceback"), rid)
    m = GO_PANIC.match(head)
    if m:
        return _error(m.group("type"), m.group("msg"), rid)
    m = RUBY_LOGGER.match(head)
    if m:
        cls = RUBY_CLASS.match(m.group("msg"))
        if cls:
            return _error(cls.group("type"), cls.group("msg"), rid)
        return _error(*_typed(m.group("msg"), "ERROR"), rid)
    m = RUBY_RAISE.search(head.split("\n", 1)[0])
    if m:
        return _error(m.group("type"), m.group("msg"), rid)
    m = LOG4J.match(head)
    if m:
        etype, msg = _typed(m.group("msg"), m.group("cls"))
        return _error(etype, msg, rid)
    first = head.split("\n", 1)[0]
    t = TYPED.match(first)
    if t and ("." in t.group("type") or JAVA_FRAME.search(head)):
        # Java (or a JVM language): "pkg.SomeException: message\n\tat …\nCaused by: …" as one event
        return _error(t.group("type"), t.group("msg") or "", rid)
    if '"errorType"' in head:
        parsed = _error_from_json_body(line)
        if parsed:
            return _error(parsed[0], parsed[1], rid)
    rt = RUNTIME_TYPE.search(head)
    if rt and ("Error" in head or "error" in head):
        return _error(*_typed(head[rt.start() :], rt.group(0)), rid)
    return None


_JSON_LEVEL = re.compile(r'"(?:level|log_level|levelname)"\s*:\s*"(?P<v>[A-Za-z]{1,16})"')
_JSON_TYPE = re.compile(r'"errorType"\s*:\s*"(?P<v>[^"\\]{1,200})"')
_JSON_MESSAGE = re.compile(r'"(?:errorMessage|message)"\s*:\s*"(?P<v>(?:[^"\\]|\\.){0,600})')
_JSON_RID = re.compile(r'"(?:requestId|AWSRequestId|request_id)"\s*:\s*"(?P<v>[\w-]{1,64})"')


def json_head_error(text: str) -> ErrorLine | None:
    """The error a JSON line too long to decode states in its head (level, errorType, message)."""
    head = text[:HEAD]
    level = _JSON_LEVEL.search(head)
    etype = _JSON_TYPE.search(head)
    if not etype and not (level and level.group("v").upper() in ERROR_LEVELS):
        return None
    msg = _JSON_MESSAGE.search(head)
    rid = _JSON_RID.search(head)
    text_msg = msg.group("v") if msg else ""
    if etype:
        return _error(etype.group("v"), text_msg, rid.group("v") if rid else "")
    return _error(*_typed(text_msg, "ERROR"), rid.group("v") if rid else "")


def parse_json_error(doc: dict) -> ErrorLine | None:
    """An error carried by a decoded JSON log line (application or runtime), if any."""
    kind = doc.get("type")
    record = doc.get("record") if isinstance(doc.get("record"), dict) else {}
    if kind == "platform.runtimeDone" and record.get("status") in {"timeout", "error", "failure"}:
        rid = str(record.get("requestId") or "")
        if record.get("status") == "timeout":
            return ErrorLine("Task timed out", TIMEOUT_MESSAGE, rid, kind="status")
        etype = str(record.get("errorType") or "Runtime.Error")[:200]
        return ErrorLine(etype, normalise(etype), rid, kind="status")
    level = str(doc.get("level") or doc.get("log_level") or doc.get("levelname") or "").upper()
    rid = str(doc.get("requestId") or doc.get("AWSRequestId") or doc.get("request_id") or "")
    msg = doc.get("message")
    if level not in ERROR_LEVELS:
        if doc.get("errorType") and "errorMessage" in doc:  # a runtime's own error document
            return _error(str(doc["errorType"]), str(doc.get("errorMessage") or ""), rid)
        return None
    if isinstance(msg, dict):  # Python runtime, unhandled exception in JSON format
        rid = rid or str(msg.get("requestId") or "")
        return _error(str(msg.get("errorType") or "ERROR"), str(msg.get("errorMessage") or ""), rid)
    if doc.get("errorType"):
        return _error(str(doc["errorType"]), str(doc.get("errorMessage") or msg or ""), rid)
    return _error(*_typed(str(msg or ""), "ERROR"), rid)
