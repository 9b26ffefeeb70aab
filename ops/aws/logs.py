"""CloudWatch Logs reads for Lambda log groups: Logs Insights queries and FilterLogEvents.

Insights reads up to 50 log groups in one query and filters server-side, but is billed per GB
scanned ($0.005/GB), returns at most 10,000 rows and is asynchronous (StartQuery, then
GetQueryResults until it completes). FilterLogEvents is one log group per call, paged by
nextToken. Both return the same LogEvent dataclass; the event id is derived from
(stream, timestamp, message) so that a line read by either path is stored once.
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

# Terms AWS matches server-side (moto ignores the ?-syntax and returns everything, which the
# parser then skips).
FILTER_PATTERN = '?REPORT ?ERROR ?"Task timed out" ?"Runtime exited" ?"Runtime." ?Traceback ?"platform.report"'
INSIGHTS_QUERY = (
    "fields @timestamp, @message, @logStream, @log"
    " | filter @message like /REPORT RequestId|platform\\.report|ERROR|Task timed out|Runtime exited|Runtime\\.|Traceback/"
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
        return hashlib.sha1(raw.encode()).hexdigest()


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
    """Run the error/REPORT query over ``groups`` for [start, end) and wait for it."""
    if len(groups) > INSIGHTS_MAX_GROUPS:
        raise ValueError(f"Logs Insights takes at most {INSIGHTS_MAX_GROUPS} log groups per query")
    c = logs or client("logs", scope)
    qid = call(
        c,
        "StartQuery",
        logGroupNames=list(groups),
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),  # inclusive, whole seconds: over-read, trimmed below
        queryString=INSIGHTS_QUERY,
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
    by_group: dict[str, list[LogEvent]] = {g: [] for g in groups}
    rows = res.get("results", []) or []
    for row in rows:
        fields = {f.get("field"): f.get("value") for f in row}
        log = fields.get("@log") or ""
        group = log.split(":", 1)[1] if ":" in log else log
        if group not in by_group:
            if len(groups) != 1:
                # A row we cannot attribute would be a line lost without a trace: give up on
                # Insights for these groups and let the caller read them one by one.
                raise InsightsUnavailable("Logs Insights rows without a usable @log field")
            group = groups[0]
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
