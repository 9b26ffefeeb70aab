"""Time partitions of the minute and five-minute tables: made ahead, filled from the default
partition, dropped whole past retention.

Why (research/perf-reliability-facts.md §6, and bench/bench_partitions.py on this machine):
dropping a day's partition takes tens of milliseconds where deleting the same day's rows in
batches took most of a second and left dead tuples for vacuum to clear. So the two tables that
grow by the minute are range-partitioned on ``ts`` (migration 0021_partitions):

- ``<table>_pYYYYMMDD``: one partition per period [lo, lo + period), named by its first day;
  the minute table by day (15 days kept → ~19 partitions), the five-minute table by week
  (63 days kept → ~13 partitions). Monthly five-minute partitions would keep up to 31 days past
  retention instead of 7 (on average ~12 days more rows on disk: ~0.9 GB at 1,000 functions)
  to save planning time that is small: measured here, one series' 30 days over 6 weekly
  partitions planned in 0.2–0.6 ms against 0.1–0.2 ms over one monthly, and the five-minute
  table serves charts of up to ~5 days (1–2 weekly partitions) and range totals;
- ``<table>_default``: catches a row outside every made partition (a clock far off, a back-fill
  older than the made range), so no write is ever refused; maintenance moves such rows out;
- on the parent: the natural key UNIQUE (series_id, ts) (a partitioned table's unique keys must
  include ts, and this one does) and the BRIN index on ts; no index on ``id`` (see the migration).

``partitions_maintain`` (its own beat entry, and the hourly retention task before its deletes),
under the "retention" advisory lock:

1. make every period from now's to AHEAD periods ahead that has no partition yet;
2. move the rows the default partition holds for periods not yet past retention (and not past
   the horizon) into partitions made for their periods;
3. drop whole partitions whose upper bound is at or before the retention cutoff: by the
   partition's own constraint every row in it is older than the cutoff, so no row newer than the
   cutoff is ever dropped. Retention is therefore kept per whole period (a minute row lives 15 to
   16 days); the default partition's rows past the cutoff are deleted by retention in batches.

Every DDL statement waits at most LOCK_TIMEOUT for its lock: making or dropping a partition
briefly locks the parent or the default partition, and queuing behind a long read would stall
every writer queued behind it. A step that times out is skipped, reported and retried next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ops.pollers.base import advisory_lock

log = logging.getLogger(__name__)

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: weeks start on Mondays, as the roll-ups' buckets
LOCK_TIMEOUT_MS = 3000
# Storage parameters each partition is made with (a partitioned parent cannot take them): vacuum
# and analyze after 2 % of a partition changed or was inserted rather than 20 %, so the
# visibility map stays current and index-only scans stay index-only on fresh partitions.
AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": 0.02,
    "autovacuum_analyze_scale_factor": 0.02,
    "autovacuum_vacuum_insert_scale_factor": 0.02,
}


@dataclass(frozen=True)
class Scheme:
    table: str
    period: timedelta
    ahead: int  # periods made ahead of the current one
    retention_setting: str

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    @property
    def retention(self) -> timedelta:
        return timedelta(days=getattr(settings, self.retention_setting))


SCHEMES = (
    Scheme("ops_minutestat", timedelta(days=1), 3, "MINUTE_RETENTION_DAYS"),
    Scheme("ops_fiveminutestat", timedelta(days=7), 2, "FIVE_MINUTE_RETENTION_DAYS"),
)
BY_TABLE = {s.table: s for s in SCHEMES}


@dataclass(frozen=True)
class Partition:
    name: str
    lo: datetime | None  # None: the default partition (or an unbounded one)
    hi: datetime | None
    is_default: bool = False


def period_floor(*, scheme: Scheme, ts: datetime) -> datetime:
    return ts - (ts - ORIGIN) % scheme.period


def partition_name(*, scheme: Scheme, lo: datetime) -> str:
    return f"{scheme.table}_p{lo.astimezone(UTC):%Y%m%d}"


def table_is_partitioned(*, table: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cur.fetchone()
    return bool(row and row[0])


def partitions_list(*, table: str) -> list[Partition]:
    """The partitions of ``table`` with their bounds, oldest first (the default last)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', m[1]::timestamptz, m[2]::timestamptz"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),"
            "   $re$FROM \\('([^']*)'\\) TO \\('([^']*)'\\)$re$) AS m"
            " WHERE i.inhparent = to_regclass(%s)",
            [table],
        )
        rows = cur.fetchall()
    parts = [Partition(name=n, lo=lo, hi=hi, is_default=d) for n, d, lo, hi in rows]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(parts, key=lambda p: (p.is_default, p.lo or far, p.name))


def _overlaps(parts: list[Partition], lo: datetime, hi: datetime) -> bool:
    for p in parts:
        if p.is_default:
            continue
        if (p.lo is None or p.lo < hi) and (p.hi is None or lo < p.hi):
            return True
    return False


def _columns(table: str) -> str:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum",
            [table],
        )
        return ", ".join(connection.ops.quote_name(r[0]) for r in cur.fetchall())


def _reloptions() -> str:
    return ", ".join(f"{k} = {float(v)}" for k, v in AUTOVACUUM.items())


def partition_make(*, scheme: Scheme, lo: datetime) -> int:
    """Make the partition for the period starting at ``lo`` and move into it the rows the
    default partition holds for that period; return the rows moved.

    1. lock the default partition (ATTACH needs that lock anyway; taking it first means no
       writer can add a row for the period between the move and the attach);
    2. create the table on its own, like the parent, with the autovacuum settings;
    3. move the default partition's rows of the period into it, one series' rows together;
    4. attach it: Postgres checks its rows against the bounds and builds its indexes (the
       parent's unique key and BRIN, the foreign key), taking only SHARE UPDATE EXCLUSIVE on the
       parent, so upserts into other partitions go on meanwhile.
    One transaction: a failure leaves the default partition as it was.
    """
    lo = period_floor(scheme=scheme, ts=lo)
    hi = lo + scheme.period
    q = connection.ops.quote_name
    name, table, default = q(partition_name(scheme=scheme, lo=lo)), q(scheme.table), q(scheme.default)
    cols = _columns(scheme.table)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}")
        cur.execute(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")
        cur.execute(
            f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH ({_reloptions()})"
        )
        cur.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE ts >= %s AND ts < %s RETURNING {cols})"
            f" INSERT INTO {name} ({cols}) SELECT {cols} FROM moved ORDER BY series_id, ts",
            [lo, hi],
        )
        moved = max(cur.rowcount, 0)
        # Bounds as literals: DDL takes no parameters. Both are datetimes computed here.
        cur.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ('{lo.astimezone(UTC).isoformat()}') TO ('{hi.astimezone(UTC).isoformat()}')"
        )
    return moved


def partitions_ensure(*, scheme: Scheme, start: datetime, end: datetime) -> list[str]:
    """Make every missing period partition overlapping [start, end); return the names made.
    A period that overlaps a partition of other bounds is left alone (attaching would fail)."""
    made = []
    parts = partitions_list(table=scheme.table)
    lo = period_floor(scheme=scheme, ts=start)
    while lo < end:
        if not _overlaps(parts, lo, lo + scheme.period):
            partition_make(scheme=scheme, lo=lo)
            made.append(partition_name(scheme=scheme, lo=lo))
        lo += scheme.period
    return made


def _default_periods(scheme: Scheme, since: datetime, until: datetime) -> list[datetime]:
    """Start of each period for which the default partition holds rows in [since, until)."""
    seconds = int(scheme.period.total_seconds())
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [scheme.default])
        if not cur.fetchone()[0]:
            return []  # no default partition (someone dropped it): nothing waits there
        cur.execute(
            f"SELECT DISTINCT date_bin('{seconds} seconds', ts, %s) FROM {connection.ops.quote_name(scheme.default)}"
            " WHERE ts >= %s AND ts < %s ORDER BY 1",
            [ORIGIN, since, until],
        )
        return [r[0] for r in cur.fetchall()]


def partition_drop(*, name: str) -> None:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}")
        cur.execute(f"DROP TABLE {connection.ops.quote_name(name)}")


def _maintain_one(scheme: Scheme, now: datetime) -> dict:
    report: dict = {"made": [], "moved": 0, "dropped": [], "skipped": []}
    cutoff = now - scheme.retention
    horizon = period_floor(scheme=scheme, ts=now) + scheme.period * (scheme.ahead + 1)

    def attempt(step: str, fn):
        try:
            return fn()
        except DatabaseError as exc:  # a lock not granted in time, a bound that overlaps: next run
            log.warning("partition %s on %s skipped: %s", step, scheme.table, exc)
            report["skipped"].append(f"{step}: {str(exc).strip()[:200]}")
            return None

    # 1. ahead
    lo = period_floor(scheme=scheme, ts=now)
    parts = partitions_list(table=scheme.table)
    while lo < horizon:
        if not _overlaps(parts, lo, lo + scheme.period) and attempt(
            f"make {lo:%Y-%m-%d}", lambda lo=lo: partition_make(scheme=scheme, lo=lo)
        ) is not None:
            report["made"].append(partition_name(scheme=scheme, lo=lo))
        lo += scheme.period
    # 2. rows waiting in the default partition, for periods still kept
    parts = partitions_list(table=scheme.table)
    for lo in _default_periods(scheme, cutoff, horizon):
        if _overlaps(parts, lo, lo + scheme.period):
            continue  # a partition of other bounds covers part of it: leave the rows where they are
        moved = attempt(f"move {lo:%Y-%m-%d}", lambda lo=lo: partition_make(scheme=scheme, lo=lo))
        if moved is not None:
            report["made"].append(partition_name(scheme=scheme, lo=lo))
            report["moved"] += moved
    # 3. past retention: only partitions whose every row is older than the cutoff
    for p in partitions_list(table=scheme.table):
        if p.is_default or p.hi is None or p.hi > cutoff:
            continue
        if attempt(f"drop {p.name}", lambda p=p: partition_drop(name=p.name) or True):
            report["dropped"].append(p.name)
    return report


def partitions_maintain(*, now: datetime | None = None) -> dict[str, dict]:
    """Make partitions ahead, move rows out of the default partitions, drop whole partitions past
    retention (see the module's docstring); a report per table. Skips a table that is not
    partitioned (a database not yet migrated) and runs nothing while another run holds the lock."""
    now = now or timezone.now()
    out: dict[str, dict] = {}
    # Re-entrant within a session: the retention task calls this while it holds the same lock.
    with advisory_lock("retention") as got:
        if not got:
            return out
        for scheme in SCHEMES:
            if table_is_partitioned(table=scheme.table):
                out[scheme.table] = _maintain_one(scheme, now)
    return out
