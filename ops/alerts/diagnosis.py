"""The diagnosis an on-call engineer would otherwise assemble by hand across four consoles, written
on every incident and carried by every notification: when it began, what changed just before,
the new version against the one it replaced, the top error with a request id, the DLQ, throttling,
and the same hour yesterday.

Each line is ``{"key", "text", "url"}``; the URL (relative) opens the evidence. Everything reads
stored rows (no AWS call). Missing data gives a line that says so, or no line; one line that
cannot be assembled is left out (and logged) rather than losing the others.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from ops.models import (
    DLQ_ROLES,
    AliasChange,
    AliasChangeSource,
    Change,
    ErrorGroup,
    FunctionQueue,
    LogLine,
    RegionStat,
    Series,
    SeriesKind,
)
from ops.models.alerts import Incident
from ops.models.choices import ChangeKind
from ops.models.telemetry import ErrorMinute
from ops.selectors.deploys import version_compare
from ops.selectors.dlq_depth import arrivals_sql, depth_before_sql, growth_sql
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.telemetry import series_totals

log = logging.getLogger(__name__)

BEFORE = timedelta(hours=1)  # how far back a deploy or configuration change counts as "just before"
SLACK = timedelta(minutes=2)  # a change stamped this long after the onset minute still counts
DLQ_WINDOW = timedelta(minutes=15)  # "how fast it fills": arrivals over this long
YESTERDAY_HALF = timedelta(minutes=30)  # the same hour yesterday: ±30 min around the onset − 1 day
COLUMNS = ("invocations", "errors", "throttles", "concurrency_max")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fn_url(fn, start: datetime, end: datetime, anchor: str = "") -> str:
    query = urlencode({"range": "custom", "start": _iso(start), "end": _iso(end)})
    return f"/functions/{fn.pk}/?{query}" + (f"#{anchor}" if anchor else "")


def _pct(v: float | None) -> str:
    return "—" if v is None else (f"{v:.1f} %" if v < 10 else f"{v:.0f} %")


def _n(v: float | None) -> str:
    return "—" if v is None else f"{round(v):,}"


def _ago(d: timedelta) -> str:
    m = max(0, round(d.total_seconds() / 60))
    return f"{m} min" if m < 120 else f"{m // 60} h {m % 60} min"


def incident_diagnosis(*, incident: Incident, now: datetime | None = None) -> list[dict]:
    """The diagnosis lines, in the order an engineer asks the questions."""
    now = now or timezone.now()
    fn = incident.function
    began = incident.began_at
    if fn is None:  # a scope-wide incident (region headroom, a poller): only when it began
        return [{"key": "began", "text": f"Began {began:%Y-%m-%d %H:%M} UTC, {_ago(now - began)} ago ({incident.scope_key}).",
                 "url": "/status/"}]
    series = Series.objects.filter(function=fn, kind=SeriesKind.FUNCTION, qualifier="").first()
    lines: list[dict] = []
    for build in (_began, _change_before, _top_error, _dlq, _throttling, _yesterday):
        try:
            with transaction.atomic():  # a savepoint: a failed query must not abort the caller's transaction
                out = build(fn=fn, began=began, now=now, series=series)
        except Exception:  # one line's odd data must not take the other lines (or the tick) down
            log.exception("diagnosis line %s of incident %s", build.__name__, incident.pk)
            continue
        lines.extend(out if isinstance(out, list) else [out] if out else [])
    return lines


def incident_diagnose(*, incident: Incident, now: datetime | None = None) -> list[dict]:
    """Assemble the diagnosis and store it on the incident (opening and every round)."""
    now = now or timezone.now()
    incident.diagnosis = incident_diagnosis(incident=incident, now=now)
    incident.diagnosed_at = now
    Incident.objects.filter(pk=incident.pk).update(diagnosis=incident.diagnosis, diagnosed_at=now)
    return incident.diagnosis


# --- the lines -----------------------------------------------------------------------------------
def _began(*, fn, began, now, series) -> dict:
    text = f"Began {began:%Y-%m-%d %H:%M} UTC, {_ago(now - began)} ago."
    if series is not None:
        t = series_totals(series_ids=[series.id], start=began, end=now, columns=COLUMNS)[series.id]
        if t["invocations"]:
            text += f" Since then {_pct(100.0 * t['errors'] / t['invocations'])} errors of {_n(t['invocations'])} invocations."
    return {"key": "began", "text": text, "url": _fn_url(fn, began - timedelta(minutes=30), now)}


def _change_before(*, fn, began, now, series) -> list[dict]:
    """The deploy (alias move) or configuration change (CloudTrail) nearest before the onset,
    within an hour; for an alias move also the two versions side by side."""
    lo, hi = began - BEFORE, began + SLACK
    move = (AliasChange.objects.filter(function=fn, at__gte=lo, at__lt=hi).exclude(source=AliasChangeSource.CREATED)
            .select_related("alias", "actor").order_by("-at", "-id").first())
    # configuration: memory, timeout, concurrency, code on $LATEST… (alias moves are the deploys above)
    change = (Change.objects.filter(function=fn, at__gte=lo, at__lt=hi)
              .exclude(kind__in=[ChangeKind.ALIAS, ChangeKind.VERSION]).order_by("-at", "-id").first())
    if move is None and change is None:
        return [{"key": "deploy", "text": "No deploy or configuration change in the hour before it began.",
                 "url": _fn_url(fn, lo, now, "changes-h")}]
    if move is not None and (change is None or move.at >= change.at):
        before = _ago(began - move.at) if move.at <= began else "0 min"
        actor = (move.actor.get_username() if move.actor else move.actor_name) or "an unknown actor"
        tool = move.tool or move.get_dated_by_display()
        kind = "Rollback" if move.source == AliasChangeSource.ROLLBACK else "Deploy"
        out = [{"key": "deploy",
                "text": f"{kind} {before} before: {move.alias.name} v{move.from_version or '∅'} → v{move.to_version} "
                        f"by {actor} ({tool}), {move.at:%H:%M} UTC.",
                "url": _fn_url(fn, move.at - timedelta(minutes=30), now, "deploys-h")}]
        versions = _versions(fn=fn, move=move, now=now)
        if versions:
            out.append(versions)
        return out
    before = _ago(began - change.at) if change.at <= began else "0 min"
    return [{"key": "deploy",
             "text": f"Configuration change {before} before: {change.summary or change.event_name} by "
                     f"{change.actor or 'an unknown actor'} ({change.tool or 'unknown tool'}), {change.at:%H:%M} UTC.",
             "url": _fn_url(fn, change.at - timedelta(minutes=30), now, "changes-h")}]


def _versions(*, fn, move: AliasChange, now) -> dict | None:
    new, old = move.to_version, move.from_version
    if not old or old == new:
        return None
    cmp = version_compare(function=fn, versions=[new, old], deploy_at=move.at, now=now)
    after_new, before_old = cmp.sides[0].after, cmp.sides[1].before
    if not after_new.invocations and not before_old.invocations:
        text = f"No per-version numbers stored for v{new} or v{old} (ExecutedVersion) around the deploy."
    else:
        new_part = (f"v{new} errors {_pct(after_new.error_rate)} of {_n(after_new.invocations)} invocations since the deploy"
                    if after_new.invocations else f"v{new} has no invocations stored since the deploy")
        old_part = (f"v{old} had {_pct(before_old.error_rate)} of {_n(before_old.invocations)} in the hour before"
                    if before_old.invocations else f"v{old} has no invocations stored in the hour before")
        text = f"{new_part}; {old_part}."
    return {"key": "versions", "text": text, "url": _fn_url(fn, cmp.before_start, now, "versions-h")}


def _top_error(*, fn, began, now, series) -> dict:
    since = began - timedelta(minutes=5)
    top = (ErrorMinute.objects.filter(group__function=fn, ts__gte=since, ts__lt=now).values("group_id")
           .annotate(n=Sum("count")).order_by("-n", "group_id").first())
    url = _fn_url(fn, since, now, "groups-h")
    if top is None:
        return {"key": "error", "text": "No error lines grouped since it began (logs not polled, or errors without log lines).",
                "url": url}
    group = ErrorGroup.objects.get(pk=top["group_id"])
    line = LogLine.objects.filter(function=fn, group=group, ts__gte=since).order_by("-ts").first()
    sample = ({"request_id": line.request_id, "line": line.message, "ts": line.ts.isoformat()} if line
              else next(iter(group.samples or []), None))
    text = f"Top error since it began: {group.error_type}: {group.message[:160]} ({_n(top['n'])} times)"
    if sample:
        text += f"; e.g. request {sample.get('request_id') or '(no id)'}: {str(sample.get('line', ''))[:200].strip()}"
    return {"key": "error", "text": text + ".", "url": url,
            "request_id": (sample or {}).get("request_id", "")}


def _dlq(*, fn, began, now, series) -> list[dict]:
    """Each DLQ of the function: its depth now and its arrivals over the last 15 minutes."""
    links = list(FunctionQueue.objects.filter(function=fn, role__in=DLQ_ROLES).select_related("queue").order_by("queue__name"))
    out = []
    for link in links:
        q = link.queue
        sql = f"""SELECT {depth_before_sql('%(q)s', '%(now)s')}, {depth_before_sql('%(q)s', '%(start)s')},
                         {arrivals_sql('%(q)s', '%(start)s', '%(now)s')}"""
        with connection.cursor() as cur:
            cur.execute(sql, {"q": q.pk, "now": now, "start": now - DLQ_WINDOW})
            depth, before, arrivals = cur.fetchone()
            cur.execute(f"SELECT {growth_sql('%(d)s', '%(b)s', '%(a)s')}",
                        {"d": float(depth or 0), "b": None if before is None else float(before), "a": float(arrivals or 0)})
            growth = float(cur.fetchone()[0] or 0)
        depth = None if depth is None else float(depth)
        minutes = DLQ_WINDOW.total_seconds() / 60
        if depth is None:
            text = f"DLQ {q.name}: no depth stored yet (not polled)."
        elif growth and growth > 0:
            text = (f"DLQ {q.name} is filling: {_n(depth)} messages, +{_n(growth)} in the last {minutes:.0f} min "
                    f"({growth / minutes:.1f}/min).")
        else:
            text = f"DLQ {q.name}: {_n(depth)} messages, not filling (no new messages in the last {minutes:.0f} min)."
        out.append({"key": "dlq", "text": text, "url": f"/dlqs/{q.pk}/"})
    return out


def _throttling(*, fn, began, now, series) -> dict | None:
    if series is None:
        return None
    t = series_totals(series_ids=[series.id], start=began, end=now, columns=COLUMNS)[series.id]
    limit = account_concurrency_limit()
    peak = t["concurrency_max"]
    reserved = fn.reserved_concurrency
    parts = []
    if reserved is not None:
        parts.append(f"peak concurrency {_n(peak)} of reserved {reserved}"
                     + (f" ({_pct(100.0 * peak / reserved)})" if peak is not None and reserved else ""))
    else:
        parts.append(f"peak concurrency {_n(peak)} (no reserved concurrency)")
    region = (RegionStat.objects.filter(account=fn.account, region=fn.region, ts__gte=began, ts__lt=now)
              .order_by("-ts").values_list("claimed_concurrency_max", "concurrency_max").first())
    claimed = None if region is None else (region[0] if region[0] is not None else region[1])
    if claimed is not None:
        parts.append(f"the region's claimed concurrency {_n(claimed)} of the account limit {limit:,} "
                     f"({_pct(100.0 * claimed / limit)})")
    else:
        parts.append(f"account limit {limit:,} (no region figures stored)")
    if t["throttles"]:
        head = f"Throttled {_n(t['throttles'])} times since it began"
    else:
        head = "Not throttled since it began"
    return {"key": "throttle", "text": f"{head}: {'; '.join(parts)}.", "url": _fn_url(fn, began - timedelta(minutes=30), now)}


def _yesterday(*, fn, began, now, series) -> dict | None:
    if series is None:
        return None
    # aligned to 5 minutes: a day back, minutes may already be rolled up into 5-minute rows
    start = began - timedelta(days=1) - YESTERDAY_HALF
    start = start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    end = start + 2 * YESTERDAY_HALF
    y = series_totals(series_ids=[series.id], start=start, end=end, columns=COLUMNS)[series.id]
    url = _fn_url(fn, start, end)
    if not y["invocations"] and not y["errors"]:
        return {"key": "yesterday", "text": f"No invocations stored for {start:%H:%M}–{end:%H:%M} UTC yesterday.", "url": url}
    rate = 100.0 * y["errors"] / y["invocations"] if y["invocations"] else None
    return {"key": "yesterday",
            "text": f"Yesterday {start:%H:%M}–{end:%H:%M} UTC: {_pct(rate)} errors of {_n(y['invocations'])} invocations "
                    f"({_n(y['throttles'])} throttles).",
            "url": url}
