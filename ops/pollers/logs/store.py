"""One function's window of log lines → per-minute REPORT aggregates, error groups and lines.

``aggregate`` is pure: each line is sanitised (NUL and unpaired surrogates removed) and parsed;
a line that cannot be read becomes a quarantine item, never an exception; an invocation's own
failure counts once per request id (the runtime's "Task timed out" line and the REPORT's
``Status: timeout`` are one error). ``store_window`` writes the window in one transaction and is
idempotent: the REPORT columns and per-minute error counts of the re-read minutes are replaced,
and each error group's total moves by the difference. If the database still refuses the window,
the refused error lines are found by bisection (each probe rolled back) and set aside alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.db import DataError, transaction

from ops.aws.logs import LogEvent, ReportMinute
from ops.models import ErrorGroup, ErrorMinute, Function, QuarantineReason, Series, SeriesKind
from ops.pollers.base import PollContext
from ops.pollers.logs import parse as logparse
from ops.pollers.quarantine import Item, sanitise
from ops.pollers.metrics.plan import COUNT_COLUMNS, METRIC_COLUMNS
from ops.pollers.rows import floor_minute, stat_defaults
from ops.pollers.storage import bulk_upsert
from ops.rules.cost import gb_seconds

LOG_COLUMNS = (
    "reports",
    "cold_starts",
    "init_duration_sum",
    "init_duration_max",
    "billed_duration_sum",
    "billed_gb_s",
    "memory_used_max_mb",
    "memory_size_mb",
    "log_errors",
)
MAX_LINES_PER_MINUTE = 50
# Lambda names log streams "2026/11/23/[$LATEST]abc…" or "…/[7]abc…": the version that ran.
VERSION_IN_STREAM = re.compile(r"\[([^\]]+)\]")
MAX_SAMPLES = 5


@dataclass
class MinuteAgg:
    reports: int = 0
    cold_starts: int = 0
    init_duration_sum: float = 0.0
    init_duration_max: float | None = None
    billed_duration_sum: float = 0.0
    billed_gb_s: float = 0.0
    memory_used_max_mb: int | None = None
    memory_size_mb: int | None = None
    log_errors: int = 0

    def add_report(self, r: logparse.Report, *, memory_mb: int) -> None:
        self.reports += 1
        if r.cold:  # an init, or a SnapStart restore
            self.cold_starts += 1
            self.init_duration_sum += r.cold_ms
            self.init_duration_max = max(self.init_duration_max or 0.0, r.cold_ms)
        self.billed_duration_sum += r.billed_total_ms
        self.billed_gb_s += r.billed_gb_s(memory_mb=memory_mb)
        if r.max_memory_mb is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, r.max_memory_mb)
        size = r.memory_mb or memory_mb
        if size:
            self.memory_size_mb = max(self.memory_size_mb or 0, size)

    def add_stats(self, r: ReportMinute, *, memory_mb: int) -> None:
        """Fold in one Logs Insights ``stats … by bin(1m)`` row (REPORT lines counted server-side)."""
        size = int(r.memory_mb) if r.memory_mb else memory_mb
        self.reports += r.reports
        self.cold_starts += r.inits + r.restores
        self.init_duration_sum += r.init_sum + r.restore_sum
        peaks = [v for v in (r.init_max, r.restore_max, self.init_duration_max) if v is not None]
        self.init_duration_max = max(peaks) if peaks else None
        billed = r.billed_sum + r.billed_restore_sum
        self.billed_duration_sum += billed
        self.billed_gb_s += gb_seconds(memory_mb=size or 0, billed_ms=billed)
        if r.used_max is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, int(round(r.used_max)))
        if size:
            self.memory_size_mb = max(self.memory_size_mb or 0, size)

    def values(self) -> tuple:
        return tuple(getattr(self, c) for c in LOG_COLUMNS)


@dataclass
class WindowAgg:
    minutes: dict[datetime, MinuteAgg] = field(default_factory=lambda: defaultdict(MinuteAgg))
    errors: list[tuple[LogEvent, logparse.ErrorLine]] = field(default_factory=list)
    quarantined: list[Item] = field(default_factory=list)


def _item(e: LogEvent, reason: str, detail: str) -> Item:
    return Item(
        reason=reason, key=f"{e.group}\n{e.event_id}", where=f"{e.group} {e.stream}", detail=detail, raw=e.message, at=e.timestamp
    )


def aggregate(events, *, memory_mb: int, stats: list[ReportMinute] = ()) -> WindowAgg:
    """Per-minute REPORT aggregates, the error lines and the quarantined lines of a window (pure).
    ``stats``: the window's REPORT lines as Logs Insights counted them (``events`` then holds
    only the lines it left to the parser)."""
    agg = WindowAgg()
    for row in stats:
        agg.minutes[row.minute].add_stats(row, memory_mb=memory_mb)
    errors: list[tuple[LogEvent, logparse.ErrorLine]] = []
    for raw in events:
        message, stream = sanitise(raw.message), sanitise(raw.stream)
        e = raw
        if message is not raw.message or stream is not raw.stream:
            e = dataclasses.replace(raw, message=message, stream=stream)
        if e is not raw:
            agg.quarantined.append(_item(raw, QuarantineReason.SANITISED, "NUL or unpaired surrogate removed; line kept"))
        try:
            parsed = logparse.parse_line(e.message)
        except logparse.BadLine as bad:
            if len(e.message) > logparse.MAX_LINE:
                agg.quarantined.append(_item(e, QuarantineReason.TOO_LONG, f"line of {len(e.message):,} characters; set aside ({bad})"))
            else:
                agg.quarantined.append(_item(e, bad.reason, str(bad)))
            continue
        if len(e.message) > logparse.MAX_LINE:
            kept = "read from its head" if parsed is not None else "set aside"
            agg.quarantined.append(_item(e, QuarantineReason.TOO_LONG, f"line of {len(e.message):,} characters; {kept}"))
        if isinstance(parsed, logparse.Report):
            agg.minutes[floor_minute(e.timestamp)].add_report(parsed, memory_mb=memory_mb)
            parsed = parsed.status_error()
        if isinstance(parsed, logparse.ErrorLine):
            errors.append((e, parsed))
    agg.errors = _one_per_invocation(errors)
    for e, _err in agg.errors:
        agg.minutes[floor_minute(e.timestamp)].log_errors += 1
    return agg


_GENERIC = {"Task timed out", "Runtime.Error", "Runtime.ExitError", "Runtime.Unknown"}


def _one_per_invocation(errors):
    """Keep one error per request id for the invocation's own failure.

    1. The runtime's lines ("Task timed out after…", "Runtime exited…") and the stated outcome
       (REPORT ``Status:``, JSON platform.report/runtimeDone status) of one request id are one
       failure: the most specific type wins (Runtime.OutOfMemory over Runtime.ExitError), then
       the earliest line;
    2. a stated error outcome alone, next to the application's own error line for that request,
       adds nothing (the line says it); a stated timeout still counts;
    3. application error lines are all kept, as before.
    """
    app = {err.request_id for _e, err in errors if err.kind == "line" and err.request_id}
    by_rid: dict[str, list[int]] = defaultdict(list)
    for i, (_e, err) in enumerate(errors):
        if err.kind != "line" and err.request_id:
            by_rid[err.request_id].append(i)
    drop: set[int] = set()
    for rid, idx in by_rid.items():
        status = [i for i in idx if errors[i][1].kind == "status"]
        if not status:
            continue
        platform = [i for i in idx if errors[i][1].kind == "platform"]
        if not platform and rid in app:
            drop |= {i for i in status if errors[i][1].error_type != "Task timed out"}
            status = [i for i in status if i not in drop]
            if not status:
                continue
        candidates = platform + status
        best = min(candidates, key=lambda i: (errors[i][1].error_type in _GENERIC, errors[i][0].timestamp, i))
        drop |= set(candidates) - {best}
    return [x for i, x in enumerate(errors) if i not in drop]


# ---------------------------------------------------------------------------------------------
# Storing one function's window


def _function_series(fn: Function) -> int:
    series, _ = Series.objects.get_or_create(function=fn, kind=SeriesKind.FUNCTION, qualifier="")
    return series.pk


_REFUSED = (DataError, psycopg.DataError, UnicodeError)


class _Probe(Exception):
    """Raised to roll a trial write back."""


def store_window(ctx: PollContext, fn: Function, start: datetime, stop: datetime, agg: WindowAgg) -> int:
    """Write one function's [start, stop) in one transaction; return rows changed. Error lines
    the database refuses are moved to ``agg.quarantined`` and the rest is stored."""
    errors = list(agg.errors)
    try:
        return _store(fn, start, stop, agg.minutes, errors)
    except _REFUSED:
        pass
    refused: list[int] = []
    _find_refused(fn, start, stop, agg.minutes, errors, list(range(len(errors))), refused)
    for i in refused:
        e, err = errors[i]
        agg.quarantined.append(_item(e, QuarantineReason.DB_REFUSED, f"{err.error_type}: the database refused the line"))
    keep = [x for i, x in enumerate(errors) if i not in set(refused)]
    try:
        return _store(fn, start, stop, agg.minutes, keep)
    except _REFUSED as exc:  # the REPORT aggregates themselves: set the window's numbers aside
        agg.quarantined.append(
            Item(reason=QuarantineReason.DB_REFUSED, key=f"{fn.pk}\n{start.isoformat()}", where=fn.name,
                 detail=f"REPORT aggregates refused: {type(exc).__name__}", raw=repr(dict(agg.minutes))[:2000])
        )
        return _store(fn, start, stop, {}, keep)


def _trial(fn, start, stop, minutes, errors) -> bool:
    """Would the database take this write? Always rolled back."""
    try:
        with transaction.atomic():
            _store(fn, start, stop, minutes, errors)
            raise _Probe
    except _Probe:
        return True
    except _REFUSED:
        return False


def _find_refused(fn, start, stop, minutes, errors, idx: list[int], out: list[int]) -> None:
    """Bisect ``idx`` (indexes into ``errors``) for the lines the database refuses."""
    if not idx or _trial(fn, start, stop, {}, [errors[i] for i in idx]):
        return
    if len(idx) == 1:
        out.append(idx[0])
        return
    mid = len(idx) // 2
    _find_refused(fn, start, stop, minutes, errors, idx[:mid], out)
    _find_refused(fn, start, stop, minutes, errors, idx[mid:], out)


def _store(fn: Function, start: datetime, stop: datetime, minutes, errors) -> int:
    defaults = stat_defaults()
    metric_defaults = {c: (0 if c in COUNT_COLUMNS else None) for c in METRIC_COLUMNS}
    cols = list(defaults)
    with transaction.atomic():
        sid = _function_series(fn)
        rows = []
        for m, a in minutes.items():
            row = {**defaults, **metric_defaults, **dict(zip(LOG_COLUMNS, a.values()))}
            rows.append((sid, m, *[row[c] for c in cols]))
        n = bulk_upsert(
            table="ops_minutestat",
            key=["series_id", "ts"],
            columns=["series_id", "ts", *cols],
            rows=rows,
            update=LOG_COLUMNS,
            fk_guard=("series_id", "ops_series"),
        )
        n += _store_errors(fn, start, stop, errors)
    return n


def _store_errors(fn: Function, start: datetime, stop: datetime, errors) -> int:
    if not errors:
        return 0
    by_sig: dict[str, list[tuple[LogEvent, logparse.ErrorLine]]] = defaultdict(list)
    for e, err in errors:
        by_sig[err.signature].append((e, err))
    ErrorGroup.objects.bulk_create(
        [
            ErrorGroup(
                function=fn,
                signature=sig,
                error_type=items[0][1].error_type[:200],
                message=items[0][1].message,
                count=0,
                first_seen=min(e.timestamp for e, _ in items),
                last_seen=max(e.timestamp for e, _ in items),
            )
            for sig, items in by_sig.items()
        ],
        ignore_conflicts=True,
    )
    groups = {g.signature: g for g in ErrorGroup.objects.select_for_update().filter(function=fn, signature__in=list(by_sig))}
    new: Counter[tuple[int, datetime]] = Counter()
    for sig, items in by_sig.items():
        for e, _ in items:
            new[(groups[sig].pk, floor_minute(e.timestamp))] += 1
    old = {
        (gid, ts): c
        for gid, ts, c in ErrorMinute.objects.filter(
            group_id__in=[g.pk for g in groups.values()], ts__gte=start, ts__lt=stop
        ).values_list("group_id", "ts", "count")
    }
    n = bulk_upsert(
        table="ops_errorminute",
        key=["group_id", "ts"],
        columns=["group_id", "ts", "count"],
        rows=[(gid, ts, c) for (gid, ts), c in new.items()],
    )
    delta: Counter[int] = Counter()
    for (gid, _ts), c in new.items():
        delta[gid] += c
    for (gid, _ts), c in old.items():
        delta[gid] -= c
    for sig, g in groups.items():
        items = by_sig[sig]
        g.count += delta[g.pk]
        g.first_seen = min([g.first_seen, *(e.timestamp for e, _ in items)])
        g.last_seen = max([g.last_seen, *(e.timestamp for e, _ in items)])
        g.samples = _samples(g.samples, items)
        g.save(update_fields=["count", "first_seen", "last_seen", "samples"])

    per_minute: Counter[datetime] = Counter()
    lines = []
    for e, err in sorted(errors, key=lambda x: x[0].timestamp):
        m = floor_minute(e.timestamp)
        if per_minute[m] >= MAX_LINES_PER_MINUTE:
            continue
        per_minute[m] += 1
        lines.append(
            (fn.pk, e.timestamp, err.request_id[:64], groups[err.signature].pk, e.stream[:512], e.event_id, e.message[:8000])
        )
    n += bulk_upsert(
        table="ops_logline",
        key=["function_id", "stream", "event_id"],
        columns=["function_id", "ts", "request_id", "group_id", "stream", "event_id", "message"],
        rows=lines,
        update=[],
        fk_guard=("function_id", "ops_function"),
    )
    return n


def _samples(old: list, items) -> list:
    """The newest few example lines, one per request id."""
    merged = {(s.get("request_id"), s.get("ts")): s for s in (old or []) if isinstance(s, dict)}
    for e, err in items:
        version = VERSION_IN_STREAM.search(e.stream)
        merged[(err.request_id, e.timestamp.isoformat())] = {
            "ts": e.timestamp.isoformat(),
            "request_id": err.request_id,
            "line": e.message[:1000],
            "stream": e.stream,
            "version": version.group(1) if version else "",
        }
    newest = sorted(merged.values(), key=lambda s: s["ts"], reverse=True)
    out, seen = [], set()
    for s in newest:
        if s["request_id"] in seen:
            continue
        seen.add(s["request_id"])
        out.append(s)
        if len(out) == MAX_SAMPLES:
            break
    return out
