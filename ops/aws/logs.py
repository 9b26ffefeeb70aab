"""CloudWatch Logs reads for Lambda log groups: Logs Insights queries and FilterLogEvents.

Insights reads up to 50 log groups in one query and filters server-side, but is billed per GB
scanned ($0.005/GB), returns at most 10,000 rows, fails the whole query with
ResourceNotFoundException if one named log group does not exist (so callers name only groups
that DescribeLogGroups listed: ``log_groups_existing``) and is asynchronous (StartQuery, then
GetQueryResults until it completes). A window is read with two queries:
- REPORT_STATS_QUERY: plain REPORT lines within physical bounds and without a ``Status:``,
  aggregated by ``bin(1m)``, log group and memory size — a handful of rows per minute however
  busy the function, so the 10,000-row cap is never near;
- LINES_QUERY: everything else the parser must see line by line — error lines, JSON
  platform.report records and the REPORT lines the first query leaves out (a status, a value out
  of bounds, a field Insights did not discover). The two partition the REPORT lines: none is
  counted twice or lost.
FilterLogEvents is one log group per call, paged by nextToken. Both return the same LogEvent
dataclass; the event id is derived from (stream, timestamp, message) so that a line read by
either path is stored once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ops.aws import usage
from ops.aws.client import Scope, call, client, paginate
from ops.aws.errors import AwsError

# Terms AWS matches server-side: REPORT lines and the error lines of every runtime (Python,
# Node, Java, Go, .NET, Ruby, custom); the parser decides what each line is.
FILTER_PATTERN = (
    '?REPORT ?ERROR ?FATAL ?"Task timed out" ?"Runtime exited" ?"Runtime." ?Traceback ?"platform.report"'
    ' ?"platform.runtimeDone" ?Exception ?Error ?errorType ?panic ?"fatal error" ?fail ?crit ?"E, ["'
)
_ERROR_RE = (
    "ERROR|FATAL|Task timed out|Runtime exited|Runtime\\.|Traceback|Exception|Error|errorType|panic: |fatal error: "
    "|\\tfail\\t|\\tcrit\\t|^fail: |^crit: |^[EF], \\[|platform\\.report|platform\\.runtimeDone"
)
# Lambda's longest timeout is 15 minutes; past 16 a value is not a measurement (as the parser says).
MAX_MS = 960000
_IN_BOUNDS = (
    "@message like /^REPORT RequestId/ and @message not like /Status:/"
    f" and @duration >= 0 and @duration <= {MAX_MS} and @billedDuration >= 0 and @billedDuration <= {MAX_MS}"
    " and @memorySize >= 128 and @memorySize <= 10240 and @maxMemoryUsed >= 0 and @maxMemoryUsed <= 10240"
    f" and (not ispresent(@initDuration) or (@initDuration >= 0 and @initDuration <= {MAX_MS}))"
    f" and (not ispresent(restore) or (restore >= 0 and restore <= {MAX_MS}))"
    f" and (not ispresent(billedRestore) or (billedRestore >= 0 and billedRestore <= {MAX_MS}))"
)
# SnapStart's fields are not discovered by Insights: parse them (tab-delimited, like every REPORT field).
_RESTORE = (
    "parse @message /\\tRestore Duration: (?<restore>[0-9.]+) ms/"
    " | parse @message /Billed Restore Duration: (?<billedRestore>[0-9.]+) ms/"
)
REPORT_STATS_QUERY = (
    f"{_RESTORE} | filter {_IN_BOUNDS}"
    " | stats count(*) as reports, count(@initDuration) as inits, sum(@initDuration) as initSum,"
    " max(@initDuration) as initMax, count(restore) as restores, sum(restore) as restoreSum,"
    " max(restore) as restoreMax, sum(billedRestore) as billedRestoreSum, sum(@billedDuration) as billedSum,"
    " max(@maxMemoryUsed) as usedMax by bin(1m) as minute, @log, @memorySize"
    " | limit 10000"
)
LINES_QUERY = (
    f"{_RESTORE} | fields @timestamp, @message, @logStream, @log"
    f" | filter @message like /{_ERROR_RE}/ or (@message like /^REPORT / and not ({_IN_BOUNDS}))"
    " | sort @timestamp asc"
    " | limit 10000"
)
INSIGHTS_MAX_GROUPS = 50
INSIGHTS_MAX_ROWS = 10_000


@dataclass(frozen=True)
class LogEvent:
    group: str
    stream: str
    timestamp: datetime
    message: str

    @property
    def event_id(self) -> str:
        raw = f"{self.stream}\n{int(self.timestamp.timestamp() * 1000)}\n{self.message}"
        return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()  # a lone surrogate still hashes


@dataclass(frozen=True)
class ReportMinute:
    """One ``stats … by bin(1m), @log, @memorySize`` row: a minute of one group's REPORT lines."""

    group: str
    minute: datetime
    memory_mb: float | None
    reports: int
    inits: int
    init_sum: float
    init_max: float | None
    restores: int
    restore_sum: float
    restore_max: float | None
    billed_sum: float
    billed_restore_sum: float
    used_max: float | None


@dataclass(frozen=True)
class ReportStats:
    rows: list[ReportMinute]
    truncated: bool
    bytes_scanned: float


@dataclass(frozen=True)
class InsightsResult:
    events: dict[str, list[LogEvent]]  # by log group
    truncated: bool
    bytes_scanned: float


class InsightsUnavailable(Exception):
    """The query failed, timed out or was cancelled; read with FilterLogEvents instead."""


def log_group_for(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def filter_events(scope: Scope, group: str, *, start: datetime, end: datetime, pattern: str = FILTER_PATTERN) -> Iterator[LogEvent]:
    """Events in [start, end) of one log group. A group that does not exist yields nothing."""
    c = client("logs", scope)
    params = {"logGroupName": group, "startTime": _ms(start), "endTime": _ms(end) - 1}
    if pattern:
        params["filterPattern"] = pattern
    try:
        for e in paginate(c, "FilterLogEvents", "events", **params):
            ts = _from_ms(int(e.get("timestamp", 0)))
            if start <= ts < end:
                yield LogEvent(group=group, stream=e.get("logStreamName", ""), timestamp=ts, message=e.get("message", ""))
    except AwsError as err:
        if err.code == "ResourceNotFoundException":
            return  # no log group: the function never ran (or logs elsewhere)
        raise


def _parse_insights_ts(value: str) -> datetime:
    """AWS answers "2026-11-23 10:00:01.123" (UTC); some emulators answer epoch milliseconds."""
    value = (value or "").strip()
    if value.isdigit():
        return _from_ms(int(value))
    return datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=timezone.utc)


def log_groups_existing(scope: Scope, *, prefix: str = "/aws/lambda/") -> frozenset[str]:
    """The names of the log groups under ``prefix`` (DescribeLogGroups, paginated)."""
    c = client("logs", scope)
    return frozenset(g["logGroupName"] for g in paginate(c, "DescribeLogGroups", "logGroups", logGroupNamePrefix=prefix))


def _query(c, scope: Scope, groups: Sequence[str], *, query: str, start: datetime, end: datetime, timeout_s: float, sleep):
    """Start ``query`` over ``groups`` for [start, end), wait for it; (rows as dicts, bytes scanned)."""
    if len(groups) > INSIGHTS_MAX_GROUPS:
        raise ValueError(f"Logs Insights takes at most {INSIGHTS_MAX_GROUPS} log groups per query")
    qid = call(
        c,
        "StartQuery",
        logGroupNames=list(groups),
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),  # inclusive, whole seconds: over-read, trimmed by the callers
        queryString=query,
        limit=INSIGHTS_MAX_ROWS,
    )["queryId"]
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        res = call(c, "GetQueryResults", queryId=qid)
        status = res.get("status")
        if status == "Complete":
            break
        if status in {"Failed", "Cancelled", "Timeout", "Unknown"}:
            raise InsightsUnavailable(f"Logs Insights query {status}")
        if time.monotonic() + delay > deadline:
            raise InsightsUnavailable("Logs Insights query did not finish in time")
        sleep(delay)
        delay = min(delay * 2, 5.0)
    scanned = float((res.get("statistics") or {}).get("bytesScanned") or 0.0)
    usage.record_units(service="logs", operation="StartQuery", account_id=scope.account_id, region=scope.region, units=scanned)
    rows = [{f.get("field"): f.get("value") for f in row} for row in (res.get("results", []) or [])]
    return rows, scanned


def _group_of(fields: dict, groups: Sequence[str]) -> str:
    log = fields.get("@log") or ""
    group = log.split(":", 1)[1] if ":" in log else log
    if group in groups:
        return group
    if len(groups) != 1:
        # A row we cannot attribute would be a line lost without a trace: give up on Insights
        # for these groups and let the caller read them one by one.
        raise InsightsUnavailable("Logs Insights rows without a usable @log field")
    return groups[0]


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def insights_report_stats(
    scope: Scope, groups: Sequence[str], *, start: datetime, end: datetime, timeout_s: float = 30.0, sleep=time.sleep, logs=None
) -> ReportStats:
    """REPORT aggregates per log group × minute × memory size for [start, end) (whole minutes)."""
    c = logs or client("logs", scope)
    rows, scanned = _query(c, scope, groups, query=REPORT_STATS_QUERY, start=start, end=end, timeout_s=timeout_s, sleep=sleep)
    out = []
    for f in rows:
        group = _group_of(f, groups)
        try:
            minute = _parse_insights_ts(f.get("minute") or "")
        except ValueError as exc:
            raise InsightsUnavailable(f"Logs Insights stats row with an unreadable bin: {exc}") from exc
        if not (start <= minute < end):
            continue  # the over-read last second is a bin of its own
        out.append(
            ReportMinute(
                group=group,
                minute=minute,
                memory_mb=_float(f.get("@memorySize")),
                reports=int(_float(f.get("reports")) or 0),
                inits=int(_float(f.get("inits")) or 0),
                init_sum=_float(f.get("initSum")) or 0.0,
                init_max=_float(f.get("initMax")),
                restores=int(_float(f.get("restores")) or 0),
                restore_sum=_float(f.get("restoreSum")) or 0.0,
                restore_max=_float(f.get("restoreMax")),
                billed_sum=_float(f.get("billedSum")) or 0.0,
                billed_restore_sum=_float(f.get("billedRestoreSum")) or 0.0,
                used_max=_float(f.get("usedMax")),
            )
        )
    return ReportStats(rows=out, truncated=len(rows) >= INSIGHTS_MAX_ROWS, bytes_scanned=scanned)


def insights_events(
    scope: Scope,
    groups: Sequence[str],
    *,
    start: datetime,
    end: datetime,
    timeout_s: float = 30.0,
    sleep=time.sleep,
    logs=None,
) -> InsightsResult:
    """The lines the parser must read one by one (LINES_QUERY) over ``groups`` for [start, end)."""
    c = logs or client("logs", scope)
    rows, scanned = _query(c, scope, groups, query=LINES_QUERY, start=start, end=end, timeout_s=timeout_s, sleep=sleep)
    by_group: dict[str, list[LogEvent]] = {g: [] for g in groups}
    for fields in rows:
        group = _group_of(fields, groups)
        try:
            ts = _parse_insights_ts(fields.get("@timestamp") or "")
        except ValueError as exc:
            raise InsightsUnavailable(f"Logs Insights row with an unreadable @timestamp: {exc}") from exc
        if not (start <= ts < end):
            continue
        by_group[group].append(
            LogEvent(group=group, stream=fields.get("@logStream") or "", timestamp=ts, message=fields.get("@message") or "")
        )
    return InsightsResult(events=by_group, truncated=len(rows) >= INSIGHTS_MAX_ROWS, bytes_scanned=scanned)
