"""Changes: CloudTrail LookupEvents (Lambda's management events) → Change rows, per account×region.

A run:
1. reads the window [cursor − CHANGES_TRAILING_SECONDS, now] (the first run: the last
   CHANGES_INITIAL_BACKFILL_SECONDS), up to CHANGES_MAX_PAGES pages, paced at LookupEvents'
   2 requests/s. CloudTrail delivers events minutes late, so each run re-reads the trailing part
   of the last one. Pages come newest first: a window cut off by the page limit leaves its
   oldest part in the cursor's backlog, read first by the next run (up to CHANGES_MAX_PAGES
   pages more), and the run is degraded until the backlog is gone;
2. turns each event into a change (``parse``): one the parser cannot read, for whatever reason,
   is a warning on the status row and the others are stored;
3. stores the new ones keyed by EventId (``INSERT … ON CONFLICT DO NOTHING``: a re-read stores
   nothing twice), with the inventory's values before the change where it still has them; text
   is stripped of what PostgreSQL refuses, and a row it still refuses is quarantined;
4. ties alias events to the deploy markers (``merge``): the event's time and actor win; a
   marker CloudTrail has not confirmed yet is dated by the first minute its new version was
   invoked (ExecutedVersion), which is also all there is when CloudTrail is not permitted;
5. re-reads every function a new event touched that the inventory has not read since (inventory
   for that one function), so the page shows the new configuration within a run; a function
   whose re-read fails (AWS, or the database refusing the result) is flagged so the next
   inventory run reads its details.
The cursor moves to the window's end when the run succeeds (after the rows are committed).
When CloudTrail is not permitted (AccessDenied and other permanent errors), the error goes to
the status row like any poller's, with a warning saying what dates the deploys instead.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timedelta

import psycopg

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from ops.aws import cloudtrail
from ops.aws.errors import AwsError
from ops.models import Change, Function, QuarantineReason
from ops.pollers import inventory
from ops.pollers.base import PollContext
from ops.pollers.changes.cursor import ChangesCursor
from ops.pollers.changes.merge import alias_events_merge, date_by_first_invocation
from ops.pollers.changes.parse import MalformedEvent, ParsedChange, change_of
from ops.pollers.changes.summary import before_of, summary_of
from ops.pollers.quarantine import Item, quarantine_add, sanitise

# What the database refuses a row for: a value of the wrong kind (DataError; psycopg's own when
# it fails before Django wraps it) or text it cannot encode.
_REFUSED = (DataError, psycopg.DataError, UnicodeError)


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
        events, backlog = [], None
        if cursor.backlog is not None:
            older, backlog = _read(ctx, *cursor.backlog)
            events.extend(older)
        newer, unread = _read(ctx, start, end)
        events.extend(newer)
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
        except Exception as err:  # noqa: BLE001 - any event the parser trips on is malformed, not the run's end
            why = str(err) if isinstance(err, MalformedEvent) else f"{type(err).__name__}: {err}"
            ctx.warn(f"CloudTrail event {event.event_id or '(no id)'} ({event.event_name or '?'}) not read: {why}")
            continue
        if change is not None:
            parsed.append(_storable(change))
    new, stale = _store(ctx, parsed)
    alias_events_merge(account=ctx.account, region=ctx.region, now=end)
    _reread(ctx, stale | caught_fire_unread(account=ctx.account, region=ctx.region, now=end))
    ctx.items += len(new)
    if unread is not None:
        # Left over again, or anew: one span covering both (its middle may be read twice, which
        # the EventId dedup makes harmless).
        backlog = (min(unread[0], backlog[0]), max(unread[1], backlog[1])) if backlog else unread
    if backlog is not None:
        ctx.shortfall(
            f"more than {settings.CHANGES_MAX_PAGES} pages of CloudTrail events: those between "
            f"{backlog[0]:%Y-%m-%d %H:%M:%S} and {backlog[1]:%Y-%m-%d %H:%M:%S} UTC are not read yet; "
            "the next run reads them first"
        )
        ctx.cursor = ChangesCursor(until=end, backlog_from=backlog[0], backlog_until=backlog[1]).to_json()
    else:
        ctx.cursor = ChangesCursor(until=end).to_json()


def _read(ctx: PollContext, start: datetime, end: datetime) -> tuple[list, tuple[datetime, datetime] | None]:
    """The events of [start, end] and, when CHANGES_MAX_PAGES pages did not reach its start, the
    part not read: [start, the second after the oldest event read] (pages are newest first; the
    events of that second are read again next time, and the EventId dedup drops them, but none is
    lost to a bound rounded to whole seconds)."""
    out = []
    pages = cloudtrail.lambda_events(ctx.scope, start=start, end=end, max_pages=settings.CHANGES_MAX_PAGES)
    try:
        for page in pages:
            out.extend(page)
    except cloudtrail.PagesExhausted:
        oldest = min((e.event_time for e in out if e.event_time), default=end)
        return out, (start, max(start, min(oldest + timedelta(seconds=1), end)))
    return out, None


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
    refused = _insert(ctx, rows)
    new = [c for c in new if c.event_id not in refused]
    stale = set()
    for c in new:
        fn = functions.get(c.function_name)
        read_at = min(fn.last_seen, fn.detail_refreshed_at) if fn and fn.detail_refreshed_at else None
        # CloudTrail's times are whole seconds: a read in the same second may predate the change.
        if c.event_name != "DeleteFunction" and (read_at is None or read_at < c.at + timedelta(seconds=1)):
            stale.add(c.function_name)
    return new, stale


def _clean(value):
    """``value`` (JSON: str, list, dict, scalars) with every string sanitised, keys included."""
    if isinstance(value, str):
        return sanitise(value)
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _storable(change: ParsedChange) -> ParsedChange:
    """The change without NUL or unpaired surrogates (PostgreSQL refuses both, in text and jsonb):
    CloudTrail copies request parameters verbatim, so an odd client puts them there."""
    values = {f.name: _clean(getattr(change, f.name)) for f in fields(change)}
    return change if values == {f.name: getattr(change, f.name) for f in fields(change)} else replace(change, **values)


def _insert(ctx: PollContext, rows: list[Change]) -> set[str]:
    """Insert ``rows`` (a re-read inserts nothing twice); returns the event ids the database
    refused. One INSERT for the batch; if it is refused, one per row, so that one row the
    database will not take (a NaN in JSON, say) is quarantined and the rest stored."""
    try:
        with transaction.atomic():
            Change.objects.bulk_create(rows, ignore_conflicts=True, unique_fields=["event_id"])
        return set()
    except _REFUSED:
        pass
    refused, items = set(), []
    for row in rows:
        try:
            with transaction.atomic():
                Change.objects.bulk_create([row], ignore_conflicts=True, unique_fields=["event_id"])
        except _REFUSED as err:
            refused.add(row.event_id)
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            items.append(Item(QuarantineReason.DB_REFUSED, key=row.event_id, where=row.function_name,
                              detail=f"CloudTrail event {row.event_id} ({row.event_name}): the database refused it: {first}",
                              raw=repr({"before": row.before, "after": row.after, "summary": row.summary}), at=row.at))
    quarantine_add(ctx, items)
    return refused


# At most this many on-fire functions re-read per run: a region-wide incident (every function on
# fire at once) is the inventory run's to read, not one GetFunction/ListAliases burst per run.
CAUGHT_FIRE_REREADS = 10


def caught_fire_unread(*, account, region: str, now: datetime) -> set[str]:
    """The functions of this account × region that caught fire (a new problem, not a chronic one) since their
    aliases were last read, with no deploy named yet.

    CloudTrail delivers its events minutes late and the inventory runs every few minutes, so
    without this a deploy that broke a function is named only then; reading the function's
    aliases as soon as it is on fire records the move (dated by its version's first invocations
    on the next run) within a poll cycle of the rise. The metrics task asks this after each poll
    and runs this poller at once when the answer is not empty."""
    from ops.selectors.fleet import fleet_page  # the on-fire judgement the overview shows
    from ops.selectors.inventory import FunctionFilters
    from ops.selectors.timerange import TimeRange

    page = fleet_page(
        time_range=TimeRange.preset("1h", now=now),
        filters=FunctionFilters(account=account.name, region=region),
        per_page=1,
    )
    fresh = [r for r in page.fire if not r.chronic and r.deploy is None and r.since is not None]
    read_at = dict(Function.objects.filter(pk__in=[r.id for r in fresh]).values_list("pk", "last_seen"))
    # "since" is the onset minute's start and the switch may fall anywhere in it: only a read
    # after that minute surely saw the move.
    names = {r.name for r in fresh if read_at.get(r.id) is None or read_at[r.id] < r.since + timedelta(minutes=1)}
    return set(sorted(names)[:CAUGHT_FIRE_REREADS])


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
        except (*_REFUSED, IntegrityError) as err:
            # The database refused what AWS returned, or a concurrent inventory run wrote the same
            # row first: the function stays flagged (detail_refreshed_at is None) for that run.
            ctx.warn(f"{name}: re-read after its change not stored ({type(err).__name__}); the next inventory run reads it")
            continue
        if fn is not None:
            Change.objects.filter(account=ctx.account, region=ctx.region, function_name=name, function=None).update(
                function=fn
            )
