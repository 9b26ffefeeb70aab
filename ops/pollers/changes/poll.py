"""Changes: CloudTrail LookupEvents (Lambda's management events) → Change rows, per account×region.

A run:
1. reads the window [cursor − CHANGES_TRAILING_SECONDS, now] (the first run: the last
   CHANGES_INITIAL_BACKFILL_SECONDS), every page, paced at LookupEvents' 2 requests/s. CloudTrail
   delivers events minutes late, so each run re-reads the trailing part of the last one;
2. turns each event into a change (``parse``): a malformed one is a warning on the status row
   and the others are stored;
3. stores the new ones keyed by EventId (``INSERT … ON CONFLICT DO NOTHING``: a re-read stores
   nothing twice), with the inventory's values before the change where it still has them;
4. ties alias events to the deploy markers (``merge``): the event's time and actor win; a
   marker CloudTrail has not confirmed yet is dated by the first minute its new version was
   invoked (ExecutedVersion), which is also all there is when CloudTrail is not permitted;
5. re-reads every function a new event touched that the inventory has not read since (inventory
   for that one function), so the page shows the new configuration within a run; a function
   whose re-read fails is flagged so the next inventory run reads its details.
The cursor moves to the window's end when the run succeeds (after the rows are committed).
When CloudTrail is not permitted (AccessDenied and other permanent errors), the error goes to
the status row like any poller's, with a warning saying what dates the deploys instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ops.aws import cloudtrail
from ops.aws.errors import AwsError
from ops.models import Change, Function
from ops.pollers import inventory
from ops.pollers.base import PollContext
from ops.pollers.changes.cursor import ChangesCursor
from ops.pollers.changes.merge import alias_events_merge, date_by_first_invocation
from ops.pollers.changes.parse import MalformedEvent, ParsedChange, change_of
from ops.pollers.changes.summary import before_of, summary_of


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


def changes_poll(ctx: PollContext) -> None:
    end = now()
    cursor = ChangesCursor.from_json(ctx.cursor, warn=ctx.warn)
    if cursor.until is not None:
        start = cursor.until - timedelta(seconds=settings.CHANGES_TRAILING_SECONDS)
    else:
        start = end - timedelta(seconds=settings.CHANGES_INITIAL_BACKFILL_SECONDS)
    dated = date_by_first_invocation(account=ctx.account, region=ctx.region, now=end)
    try:
        events = _read(ctx, start, end)
    except AwsError as err:
        if err.permanent:
            ctx.warn(
                f"CloudTrail not readable ({err.code}); deploys are dated by their version's first "
                f"invocations (ExecutedVersion) instead{f': {dated} re-dated' if dated else ''}"
            )
        raise
    parsed: list[ParsedChange] = []
    for event in events:
        try:
            change = change_of(event)
        except MalformedEvent as err:
            ctx.warn(f"CloudTrail event {event.event_id or '(no id)'} ({event.event_name or '?'}) not read: {err}")
            continue
        if change is not None:
            parsed.append(change)
    new, stale = _store(ctx, parsed)
    alias_events_merge(account=ctx.account, region=ctx.region, now=end)
    _reread(ctx, stale)
    ctx.items += len(new)
    ctx.cursor = ChangesCursor(until=end).to_json()


def _read(ctx: PollContext, start: datetime, end: datetime) -> list:
    out = []
    pages = cloudtrail.lambda_events(ctx.scope, start=start, end=end, max_pages=settings.CHANGES_MAX_PAGES)
    try:
        for page in pages:
            out.extend(page)
    except cloudtrail.PagesExhausted as exc:
        oldest = min((e.event_time for e in out if e.event_time), default=end)
        ctx.warn(f"{exc}: events between {start:%Y-%m-%d %H:%M} and {oldest:%H:%M:%S} UTC were not read")
    return out


def _store(ctx: PollContext, parsed: list[ParsedChange]) -> tuple[list[ParsedChange], set[str]]:
    """Insert the changes not stored yet; return them (oldest first) and the functions to re-read:
    those the inventory has not read since the change (a first run's day of history mostly names
    functions read since, and re-reading them all would be a burst on Lambda's 15 calls/s)."""
    by_id = {c.event_id: c for c in parsed}
    known = set(Change.objects.filter(event_id__in=list(by_id)).values_list("event_id", flat=True))
    new = sorted((c for i, c in by_id.items() if i not in known), key=lambda c: c.at)
    if not new:
        return [], set()
    functions = {
        f.name: f
        for f in Function.objects.filter(
            account=ctx.account, region=ctx.region, name__in={c.function_name for c in new}, gone_at=None
        )
    }
    rows = []
    for c in new:
        fn = functions.get(c.function_name)
        before = before_of(c, fn)
        rows.append(
            Change(
                event_id=c.event_id,
                account=ctx.account,
                region=ctx.region,
                function=fn,
                function_name=c.function_name,
                at=c.at,
                event_name=c.event_name,
                kind=c.kind,
                qualifier=c.qualifier,
                actor_arn=c.actor_arn,
                actor=c.actor,
                tool=c.tool,
                user_agent=c.user_agent,
                before=before,
                after=c.after,
                summary=summary_of(c, before)[:256],
            )
        )
    with transaction.atomic():
        Change.objects.bulk_create(rows, ignore_conflicts=True, unique_fields=["event_id"])
    stale = set()
    for c in new:
        fn = functions.get(c.function_name)
        read_at = min(fn.last_seen, fn.detail_refreshed_at) if fn and fn.detail_refreshed_at else None
        # CloudTrail's times are whole seconds: a read in the same second may predate the change.
        if c.event_name != "DeleteFunction" and (read_at is None or read_at < c.at + timedelta(seconds=1)):
            stale.add(c.function_name)
    return new, stale


def _reread(ctx: PollContext, names: set[str]) -> None:
    """Re-read each named function now; on failure leave it flagged for the next inventory run."""
    if not names:
        return
    Function.objects.filter(account=ctx.account, region=ctx.region, name__in=names).update(detail_refreshed_at=None)
    for name in sorted(names):
        try:
            fn = inventory.function_reread(ctx, name)
        except AwsError as err:
            ctx.warn(f"{name}: re-read after its change failed ({err.code}); the next inventory run reads it")
            continue
        if fn is not None:
            Change.objects.filter(account=ctx.account, region=ctx.region, function_name=name, function=None).update(
                function=fn
            )
