"""Reading the logs poller's windows with Logs Insights: two queries per batch of log groups.

1. Only log groups that exist are named (``existing``, from DescribeLogGroups once per run): AWS
   fails a whole query with ResourceNotFoundException when one named group does not exist yet,
   and a group that does not exist has nothing to read (its window is empty, its cursor moves).
2. Per batch of groups with the same window: REPORT_STATS_QUERY (REPORT lines aggregated by
   minute, group and memory size) and LINES_QUERY (the lines the parser must read one by one).
   A batch holds at most STATS_ROW_BUDGET ÷ minutes groups, so the stats answer stays far under
   the 10,000-row cap however busy the functions are.
3. A truncated answer (an error storm) is asked again as two halves of the batch, down to one
   group; a failed, timed-out or still truncated query gives its groups back to FilterLogEvents
   (the caller reads the groups it finds no answer for); a denial is permanent and fails the run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from ops.aws import logs as aws_logs
from ops.aws.errors import AwsError
from ops.aws.logs import InsightsUnavailable, LogEvent, ReportMinute
from ops.pollers.base import PollContext

# Rows per stats answer we plan for: minutes × groups (× the rare second memory size) ≤ this.
STATS_ROW_BUDGET = 4_000
DENIED = {"AccessDeniedException", "AccessDenied"}


@dataclass
class InsightsWindow:
    events: list[LogEvent] = field(default_factory=list)
    stats: list[ReportMinute] = field(default_factory=list)


def insights_read(
    ctx: PollContext, windows: dict[int, tuple[str, datetime, datetime]], *, existing: frozenset[str]
) -> dict[int, InsightsWindow]:
    """What Logs Insights answered completely, per function id; the rest is left to FilterLogEvents."""
    same: dict[tuple[datetime, datetime], list[tuple[int, str]]] = defaultdict(list)
    out: dict[int, InsightsWindow] = {}
    for pk, (group, start, stop) in windows.items():
        if group in existing:
            same[(start, stop)].append((pk, group))
        else:
            out[pk] = InsightsWindow()  # no log group yet: nothing to read
    warned = [False]
    for (start, stop), members in same.items():
        minutes = max(1, int((stop - start).total_seconds() // 60))
        size = max(1, min(aws_logs.INSIGHTS_MAX_GROUPS, STATS_ROW_BUDGET // minutes))
        for i in range(0, len(members), size):
            out.update(_read_part(ctx, members[i : i + size], start, stop, warned))
    return out


def _read_part(ctx: PollContext, part, start: datetime, stop: datetime, warned: list[bool]) -> dict[int, InsightsWindow]:
    """One batch; a truncated answer (an error storm) is retried as two halves, down to one group."""
    groups = [g for _, g in part]
    kw = {"start": start, "end": stop, "timeout_s": settings.LOGS_INSIGHTS_TIMEOUT_SECONDS}
    try:
        stats = aws_logs.insights_report_stats(ctx.scope, groups, **kw)
        lines = aws_logs.insights_events(ctx.scope, groups, **kw)
    except (InsightsUnavailable, AwsError) as exc:
        if isinstance(exc, AwsError) and exc.code in DENIED:
            raise
        if not warned[0]:
            ctx.warn(f"Logs Insights unavailable ({getattr(exc, 'code', exc)}); read with FilterLogEvents")
            warned[0] = True
        return {}
    if stats.truncated or lines.truncated:
        if len(part) > 1:
            half = len(part) // 2
            return {**_read_part(ctx, part[:half], start, stop, warned), **_read_part(ctx, part[half:], start, stop, warned)}
        ctx.warn(f"Logs Insights hit its 10,000-row limit for {groups[0]}; read with FilterLogEvents")
        return {}
    by_group: dict[str, list[ReportMinute]] = defaultdict(list)
    for row in stats.rows:
        by_group[row.group].append(row)
    return {pk: InsightsWindow(events=lines.events.get(g, []), stats=by_group.get(g, [])) for pk, g in part}


def groups_existing(ctx: PollContext) -> frozenset[str] | None:
    """This run's (this cycle's) list of Lambda log groups; None when it cannot be read."""
    try:
        return aws_logs.log_groups_existing(ctx.scope)
    except AwsError as err:
        if not err.transient and err.code not in DENIED:
            raise
        ctx.warn(f"DescribeLogGroups {err.code}; read with FilterLogEvents")
        return None
