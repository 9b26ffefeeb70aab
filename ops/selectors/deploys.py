"""The deploy side of a function: its timeline (versions, alias moves, actions), an alias's
rollback target, two versions side by side around a deploy, and whether an action helped.

Everything here reads stored rows (inventory, CloudTrail, telemetry, jobs); nothing calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Trunc
from django.utils import timezone

from ops.models import (
    Alias,
    AliasChange,
    Change,
    EventSourceMapping,
    Function,
    FunctionVersion,
    Job,
    MinuteStat,
    Series,
    SeriesKind,
)
from ops.selectors.function import VERSION_COLUMNS, Totals, _totals
from ops.selectors.telemetry import rate, series_totals

# How far back the comparison and "did it help" look around a deploy or an action.
COMPARE_WINDOW = timedelta(hours=1)
EFFECT_MINUTES = 15
# The job page keeps re-reading "did it help" this long after the action.
EFFECT_LIVE = timedelta(minutes=15)
# Fewer known minutes than this after the action is "not enough data yet".
EFFECT_MIN_MINUTES = 2


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "version" | "alias" | "job"
    title: str
    by: str = ""
    detail: str = ""
    source: str = ""  # an alias move's source (observed, cloudtrail, rollback, …) or a job's status
    job_id: int | None = None


@dataclass
class FunctionDeploys:
    """The function page's "Deploys & actions": the timeline, and what the action buttons need."""

    timeline: list[TimelineEntry]
    rollback_targets: dict[int, str]  # alias id → the version it pointed to before (from history)
    event_sources: list[EventSourceMapping]  # each with .label and .enabled for its button
    aliases: list[tuple[Alias, str]] = field(default_factory=list)  # (alias, its rollback target or "")


def function_deploys(
    *, function: Function, versions: list[FunctionVersion], jobs: list[Job], limit: int = 40
) -> FunctionDeploys:
    """Versions published, every alias move (with its source, actor and job) and the function's
    jobs, newest first; each alias's rollback target; the event sources. ``versions`` and
    ``jobs`` are what the page already loaded: two queries (the moves, the event sources)."""
    moves = list(
        AliasChange.objects.filter(function=function)
        .select_related("alias", "actor")
        .order_by("-at", "-id")[:limit]
    )
    out: list[TimelineEntry] = []
    for v in versions:
        if v.last_modified is None:
            continue
        detail = " · ".join(x for x in (v.description, f"code {v.code_sha256[:12]}…" if v.code_sha256 else "") if x)
        out.append(TimelineEntry(at=v.last_modified, kind="version", title=f"v{v.version} published", detail=detail))
    for m in moves:
        out.append(
            TimelineEntry(
                at=m.at,
                kind="alias",
                title=f"{m.alias.name} {routing_label(m.from_version, m.from_weights)} → {routing_label(m.to_version, m.to_weights)}",
                by=(m.actor.get_username() if m.actor else m.actor_name) or "",
                detail=(m.tool or m.get_dated_by_display()),
                source=m.source,
                job_id=m.job_id,
            )
        )
    for j in jobs:
        out.append(TimelineEntry(at=j.created_at, kind="job", title=f"{j.get_kind_display()} · {j.target_label}",
                                 by=j.actor_name, detail=j.error[:160] if j.error else "", source=j.status, job_id=j.pk))
    out.sort(key=lambda e: e.at, reverse=True)
    targets: dict[int, str] = {}
    by_alias: dict[int, list[AliasChange]] = {}
    for m in moves:
        by_alias.setdefault(m.alias_id, []).append(m)
    for alias_id, rows in by_alias.items():
        version = _previous(rows[0].alias.version, rows)
        if version:
            targets[alias_id] = version
    sources = list(EventSourceMapping.objects.filter(function=function, gone_at=None).order_by("source_arn"))
    for esm in sources:
        esm.label = esm.source_arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1] or esm.uuid
        esm.enabled = esm.state not in ("Disabled", "Disabling")
    aliases = [(a, targets.get(a.pk, "")) for a in function.aliases.all()]
    return FunctionDeploys(timeline=out[:limit], rollback_targets=targets, event_sources=sources, aliases=aliases)


def _previous(current: str, moves_newest_first) -> str:
    """The version before ``current`` in an alias's moves: the move that made ``current``
    primary, and where it came from."""
    for move in moves_newest_first:
        if move.to_version != current:
            return ""  # history disagrees with the alias now: it moved since; only a fresh read helps
        if move.from_version and move.from_version != current:
            return move.from_version
    return ""


def routing_label(version: str, weights: dict | None) -> str:
    if not version:
        return "∅"
    extra = "".join(f" + v{v} ({round(float(w) * 100)} %)" for v, w in sorted((weights or {}).items()))
    return f"v{version}{extra}"


# An alias's moves, newest first. CloudTrail dates a move to the whole second, the inventory
# dates its first sighting to the microsecond: a move made within a second of that sighting
# would sort before it by ``at`` alone and hide the version it came from. Within a second, the
# row written later (a higher id) is the later state.
_NEWEST_FIRST = (Trunc("at", "second").desc(), "-id")


def alias_previous_version(*, alias: Alias) -> tuple[str, AliasChange | None]:
    """The version this alias pointed to before its current primary version, from its history
    (never "version − 1"): the move that made the current version primary, and where it came
    from. ("", None) when the history does not know (the operator then picks one)."""
    moves = list(AliasChange.objects.filter(alias=alias).order_by(*_NEWEST_FIRST)[:50])
    version = _previous(alias.version, moves)
    move = next((m for m in moves if m.from_version == version and m.to_version == alias.version), None)
    return (version, move) if version else ("", None)


def alias_last_move(*, alias: Alias) -> AliasChange | None:
    """The alias's latest recorded move (to name who moved it and when)."""
    return AliasChange.objects.filter(alias=alias).select_related("actor").order_by(*_NEWEST_FIRST).first()


@dataclass
class VersionSide:
    version: str
    published_at: datetime | None = None
    published_by: str = ""
    description: str = ""
    exists: bool = True
    before: Totals = field(default_factory=Totals)
    after: Totals = field(default_factory=Totals)


@dataclass
class VersionComparison:
    deploy_at: datetime | None
    before_start: datetime
    after_end: datetime
    sides: list[VersionSide]


def version_compare(*, function: Function, versions: list[str], deploy_at: datetime | None,
                    now: datetime | None = None) -> VersionComparison:
    """Each version's error rate, p99 and cold starts (ExecutedVersion series) in the hour before
    ``deploy_at`` and from it to now (without a deploy time: the last hour, as "after").
    Four queries whatever the number of versions."""
    now = now or timezone.now()
    # Whole minutes: the deploy's own minute counts as "after" (the new version did not exist
    # before it); "after" runs to what the metrics poller has stored (its cursor, never later
    # than now in practice).
    end = max(now, function.metrics_known_until or now)
    pivot = (deploy_at or now - COMPARE_WINDOW).replace(second=0, microsecond=0)
    before_start = pivot - COMPARE_WINDOW
    series = {s.qualifier: s for s in Series.objects.filter(function=function, kind=SeriesKind.VERSION, qualifier__in=versions)}
    ids = [s.id for s in series.values()]
    before = series_totals(series_ids=ids, start=before_start, end=pivot, columns=VERSION_COLUMNS)
    after = series_totals(series_ids=ids, start=pivot, end=end, columns=VERSION_COLUMNS)
    known = {v.version: v for v in FunctionVersion.objects.filter(function=function, version__in=versions)}
    publishers = dict(
        Change.objects.filter(function=function, event_name="PublishVersion", after__version__in=versions)
        .values_list("after__version", "actor")
    )
    sides = []
    for v in versions:
        fv = known.get(v)
        side = VersionSide(
            version=v,
            published_at=fv.last_modified if fv else None,
            published_by=publishers.get(v, ""),
            description=fv.description if fv else "",
            exists=fv is not None and fv.gone_at is None,
        )
        s = series.get(v)
        if s is not None:
            side.before = _totals(function, before[s.id])
            side.after = _totals(function, after[s.id])
        sides.append(side)
    return VersionComparison(deploy_at=deploy_at, before_start=before_start, after_end=end, sides=sides)


@dataclass
class EffectMinute:
    ts: datetime
    invocations: float
    errors: float

    @property
    def error_rate(self) -> float | None:
        return rate(self.errors, self.invocations)


@dataclass
class Effect:
    """Error rate per minute before vs after an action, from stored telemetry."""

    at: datetime | None
    series_label: str
    before: list[EffectMinute]
    after: list[EffectMinute]
    live: bool  # still inside the window the job page keeps re-reading
    start: datetime | None = None
    end: datetime | None = None

    @staticmethod
    def _rate(rows: list[EffectMinute]) -> float | None:
        return rate(sum(r.errors for r in rows), sum(r.invocations for r in rows))

    @property
    def before_rate(self) -> float | None:
        return self._rate(self.before)

    @property
    def after_rate(self) -> float | None:
        return self._rate(self.after)

    @property
    def live_until(self) -> datetime | None:
        return self.at + EFFECT_LIVE if self.at else None

    @property
    def enough(self) -> bool:
        return len(self.after) >= EFFECT_MIN_MINUTES and self.after_rate is not None and self.before_rate is not None

    @property
    def verdict(self) -> str:
        """helped | no better | worse | "" (not enough data)."""
        if not self.enough:
            return ""
        b, a = self.before_rate, self.after_rate
        if a <= b * 0.5 or (b - a) >= 1.0 and a < b:
            return "helped"
        if a > b * 1.5 and a - b >= 1.0:
            return "worse"
        return "no better"


def action_effect(*, job: Job, minutes: int = EFFECT_MINUTES, now: datetime | None = None) -> Effect:
    """Minutes before and after the job's change took effect, for the series the change moved:
    the alias's own series when the poller keeps one (Resource), else the function's. Two
    queries (the series, its minutes)."""
    now = now or timezone.now()
    at = job.finished_at if job.status == "succeeded" else None
    move = job.alias_changes.order_by("-at").first() if at is not None else None
    if move is not None:
        at = move.at
    if at is None:
        return Effect(at=None, series_label="", before=[], after=[], live=False)
    function_arn = ":".join(job.resource_arn.split(":")[:7])
    alias_name = job.parameters.get("alias", "")
    candidates = Series.objects.filter(function__arn=function_arn).filter(
        Q(kind=SeriesKind.FUNCTION) | Q(kind=SeriesKind.ALIAS, qualifier=alias_name)
    )
    series = sorted(candidates, key=lambda s: 0 if s.kind == SeriesKind.ALIAS else 1)
    if not series:
        return Effect(at=at, series_label="", before=[], after=[], live=now < at + EFFECT_LIVE)
    s = series[0]
    pivot = at.replace(second=0, microsecond=0)
    start, end = pivot - timedelta(minutes=minutes), pivot + timedelta(minutes=minutes + 1)
    rows = MinuteStat.objects.filter(series=s, ts__gte=start, ts__lt=end).order_by("ts").values_list("ts", "invocations", "errors")
    before, after = [], []
    for ts, inv, err in rows:
        m = EffectMinute(ts=ts, invocations=float(inv or 0), errors=float(err or 0))
        # the minute the change happened in serves both versions: it belongs to neither side
        if ts < pivot:
            before.append(m)
        elif ts > pivot:
            after.append(m)
    label = f"alias {alias_name}" if s.kind == SeriesKind.ALIAS else "the function (all versions)"
    return Effect(at=at, series_label=label, before=before, after=after, live=now < at + EFFECT_LIVE,
                  start=start, end=end)


def last_throttle(*, function: Function) -> Job | None:
    """The function's latest successful throttle: its result holds what an undo restores."""
    from ops.models import JobKind, JobStatus

    return (
        Job.objects.filter(kind=JobKind.FUNCTION_THROTTLE, resource_arn=function.arn, status=JobStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def alias_for_action(*, function_pk: int, alias_pk: int) -> Alias | None:
    """A live alias of the function, with what its confirm page shows (account, versions)."""
    return (
        Alias.objects.select_related("function__account")
        .prefetch_related("function__versions")
        .filter(pk=alias_pk, function_id=function_pk, gone_at=None)
        .first()
    )


def function_for_action(*, function_pk: int) -> Function | None:
    return Function.objects.select_related("account").filter(pk=function_pk, gone_at=None).first()


def esm_for_action(*, function_pk: int, esm_pk: int) -> EventSourceMapping | None:
    return (
        EventSourceMapping.objects.select_related("function__account")
        .filter(pk=esm_pk, function_id=function_pk, gone_at=None)
        .first()
    )
