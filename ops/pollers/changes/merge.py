"""One deploy, one AliasChange row: CloudTrail's alias events and the inventory's sightings merged.

The same alias move reaches us twice: as a CloudTrail event (exact time and actor, up to ~15
minutes late) and as the inventory noticing the alias changed (at its next poll, minutes late).
Whichever comes first writes the AliasChange; the other merges into it:

- CloudTrail first: the row is written with the event's time (``dated_by=cloudtrail``); the
  inventory, seeing the move later, finds it (:func:`cloudtrail_row`) and only notes when it
  saw it.
- The inventory first: its row has the poll's time; the event, when it arrives, finds it
  (same alias and target, not yet tied to an event) and moves it to the event's time.

Both sides take a transaction-level advisory lock on the alias (:func:`alias_lock`) so they
never both write a row for the same move.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db import connection, transaction

from ops.models import (
    Alias,
    AliasChange,
    AliasChangeSource,
    Change,
    ChangeKind,
    DeployDating,
    MinuteStat,
    Series,
    SeriesKind,
)

# An inventory sighting belongs to an event at most this long before it (a poll cycle and a
# lot of slack); a later sighting of the same target is another move.
SIGHTING_WINDOW = timedelta(hours=1)
# Unmerged alias events older than this stay as they are (their alias is gone, or never known).
MERGE_HORIZON = timedelta(days=1)
# A version invoked this long before its move already had traffic: its first invocation is not the move's.
PRIOR_TRAFFIC = timedelta(minutes=15)


def alias_lock(alias_id: int) -> None:
    """Serialise writers of one alias's history until the transaction ends."""
    key = int.from_bytes(hashlib.blake2b(f"alias:{alias_id}".encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def norm_weights(weights: dict | None) -> dict[str, float]:
    return {str(k): round(float(v), 6) for k, v in (weights or {}).items()}


def cloudtrail_row(*, alias: Alias, version: str, weights: dict, since: datetime | None) -> AliasChange | None:
    """A CloudTrail-dated move of ``alias`` to (version, weights) the inventory has not seen yet:
    the latest one after the inventory last saw the alias in its old state."""
    rows = AliasChange.objects.filter(alias=alias, to_version=version, observed_at=None).exclude(event_id="")
    if since is not None:
        rows = rows.filter(at__gte=since - timedelta(minutes=1))
    wanted = norm_weights(weights)
    return next((r for r in rows.order_by("-at") if norm_weights(r.to_weights) == wanted), None)


def alias_events_merge(*, account, region: str, now: datetime) -> int:
    """Tie every recent alias event of the scope to its AliasChange (created or merged); returns
    how many were tied. Events whose alias the inventory does not know yet wait for a later run."""
    pending = Change.objects.filter(
        account=account, region=region, kind=ChangeKind.ALIAS, alias_change=None, at__gte=now - MERGE_HORIZON
    ).order_by("at")
    tied = 0
    for change in pending:
        if change.event_name == "DeleteAlias":
            continue  # a deletion moves no traffic: the Change row is the record
        alias = Alias.objects.filter(
            function__account=account, function__region=region, function__name=change.function_name,
            name=change.qualifier,
        ).first()
        if alias is None:
            continue
        with transaction.atomic():
            alias_lock(alias.pk)
            row = _inventory_sighting(alias, change) or _new_row(alias, change)
            Change.objects.filter(pk=change.pk).update(alias_change=row, function=alias.function_id)
        tied += 1
    return tied


# The tool ops.pollers.changes.parse names for a call this product made (its boto3 clients add
# "lambda-ops" to the user agent: ops.aws.client).
LAMBDA_OPS_TOOL = "Lambda Ops"


def _inventory_sighting(alias: Alias, change: Change) -> AliasChange | None:
    """The inventory's (or a Lambda Ops action's) row for this move, if it got there first.

    An event of the product's own UpdateAlias (its user agent) merges only into the action's
    row (it has the job); any other event never does — someone moving the alias to the same
    version a minute later is another move. The action's row keeps its own time, actor and
    dating (the job is the better record); it only gains the event id."""
    own = change.tool == LAMBDA_OPS_TOOL
    rows = AliasChange.objects.filter(
        alias=alias,
        event_id="",
        job__isnull=not own,
        to_version=change.after.get("version", ""),
        at__gte=change.at - timedelta(minutes=1),
        at__lte=change.at + SIGHTING_WINDOW,
    ).order_by("at")
    wanted = norm_weights(change.after.get("weights"))
    row = next((r for r in rows if norm_weights(r.to_weights) == wanted), None)
    if row is None:
        return None
    if own:
        row.event_id = change.event_id
        row.save(update_fields=["event_id"])
        return row
    row.observed_at = row.observed_at or row.at
    row.at = change.at
    row.event_id, row.actor_name, row.tool = change.event_id, change.actor, change.tool
    row.dated_by = DeployDating.CLOUDTRAIL
    row.save(update_fields=["observed_at", "at", "event_id", "actor_name", "tool", "dated_by"])
    return row


def _new_row(alias: Alias, change: Change) -> AliasChange:
    """CloudTrail first: the state before is the alias's last known move before the event, else
    what the inventory holds now (it has not seen this move yet), unless the event is older than
    the inventory's first sighting of the alias (then the state before is not known)."""
    previous = AliasChange.objects.filter(alias=alias, at__lt=change.at).order_by("-at").first()
    if previous is not None:
        from_version, from_weights = previous.to_version, previous.to_weights
    elif alias.first_seen > change.at:
        from_version, from_weights = "", {}  # history from before the inventory knew the alias
    else:
        from_version, from_weights = alias.version, alias.weights
    return AliasChange.objects.create(
        alias=alias,
        function_id=alias.function_id,
        at=change.at,
        from_version=from_version,
        from_weights=from_weights or {},
        to_version=change.after.get("version", ""),
        to_weights=change.after.get("weights") or {},
        source=AliasChangeSource.CREATED if change.event_name == "CreateAlias" else AliasChangeSource.CLOUDTRAIL,
        event_id=change.event_id,
        actor_name=change.actor,
        tool=change.tool,
        dated_by=DeployDating.CLOUDTRAIL,
    )


def _shares(primary: str, weights: dict | None) -> dict[str, float]:
    extra = {str(v): float(w) for v, w in (weights or {}).items()}
    return {primary: 1 - sum(extra.values()), **extra} if primary else extra


def rising_version(row: AliasChange) -> str | None:
    """The version whose share of the alias's traffic the move raised most (the one deployed)."""
    before, after = _shares(row.from_version, row.from_weights), _shares(row.to_version, row.to_weights)
    if not after:
        return None
    best = max(after, key=lambda v: after[v] - before.get(v, 0.0))
    return best if after[best] - before.get(best, 0.0) > 0 else None


def date_by_first_invocation(*, account, region: str, now: datetime) -> int:
    """Date each recent inventory-dated move by the first minute its new version shows
    invocations (ExecutedVersion), between the alias's last sighting in its old state and the
    sighting of the move. Only a version that had no traffic just before qualifies (a canary
    going from 10 % to 100 % started earlier: its first invocation says nothing of this move).
    Until CloudTrail's event arrives (or for good, without CloudTrail) this is the best time
    there is. Returns how many rows were re-dated."""
    rows = AliasChange.objects.filter(
        function__account=account,
        function__region=region,
        source=AliasChangeSource.OBSERVED,
        dated_by=DeployDating.POLL,
        event_id="",
        at__gte=now - MERGE_HORIZON,
    ).select_related("function")
    dated = 0
    for row in rows:
        version = rising_version(row)
        if version is None:
            continue
        series = Series.objects.filter(function=row.function, kind=SeriesKind.VERSION, qualifier=version).first()
        if series is None:
            continue
        lower = row.observed_after or row.at - SIGHTING_WINDOW
        floor = lower.replace(second=0, microsecond=0)
        invoked = MinuteStat.objects.filter(series=series, invocations__gt=0)
        if invoked.filter(ts__gte=floor - PRIOR_TRAFFIC, ts__lt=floor).exists():
            continue
        first = invoked.filter(ts__gte=floor, ts__lte=row.at).order_by("ts").values_list("ts", flat=True).first()
        if first is None:
            continue
        AliasChange.objects.filter(pk=row.pk, dated_by=DeployDating.POLL).update(
            at=max(first, lower), observed_at=row.observed_at or row.at, dated_by=DeployDating.FIRST_INVOCATION
        )
        dated += 1
    return dated
