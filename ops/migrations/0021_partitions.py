"""The minute and five-minute tables become range-partitioned on ts, keeping every row.

Why and how they are kept up: ops/pollers/partitions.py. The minute table gets one partition a
day, the five-minute table one a week (Mondays), each with a default partition for rows outside
every made one.

For each table, in the migration's one transaction (a failure leaves the old table as it was):
1. lock the table against writes; note its row count, identity sequence, foreign key;
2. rename it aside (``<table>_old``) with its sequence; drop its unique and primary key
   indexes (nothing reads through them during the copy, and their names are wanted back);
3. create the partitioned table like it (same columns, defaults, identity), the period
   partitions from the oldest row's period (at most MAX_BACK periods back) to AHEAD periods
   past now, and the default partition — each partition with the autovacuum settings;
4. copy each period's rows straight into its partition, one series' rows together (the old
   table's BRIN index on ts finds a period's pages); rows outside every period go to the
   default partition;
5. check the copy holds as many rows as the old table, then drop the old table;
6. build the indexes on the parent (one per partition, built after the load, which is faster
   than maintaining them row by row): the natural key UNIQUE (series_id, ts) and the BRIN on
   ts under their old names, and the foreign key to ops_series; ANALYZE.

The Django model is unchanged: ``id`` stays its primary key in the migration state and the
column keeps its identity default (continuing the old sequence), but the database no longer
indexes it. A partitioned table's primary key must include ts, so a (id, ts) key would be a
second unique index on every partition — measured here: twice the index size and a 15–30 %
slower upsert — for lookups nothing makes: every read and write goes by (series, ts). An ORM
``get(pk=…)``, ``save()`` or ``delete()`` of one row still works, as a scan.

The reverse copies the rows back into one plain table with its old keys.
"""

from datetime import UTC, datetime, timedelta

from django.db import migrations
from django.utils import timezone

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # Monday: as ops.pollers.partitions
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,"
    " autovacuum_vacuum_insert_scale_factor = 0.02"
)
# table: (index-name prefix, period, periods ahead, most periods back of now)
TABLES = {
    "ops_minutestat": ("minutestat", timedelta(days=1), 3, 120),
    "ops_fiveminutestat": ("fiveminutestat", timedelta(days=7), 2, 60),
}


def _floor(ts, period):
    return ts - (ts - ORIGIN) % period


def _lit(ts):
    return f"'{ts.astimezone(UTC).isoformat()}'"


def _columns(cur, table):
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum",
        [table],
    )
    return ", ".join(f'"{r[0]}"' for r in cur.fetchall())


def _foreign_key(cur, table):
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    return cur.fetchall()


def _sequence(cur, table):
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    seq = cur.fetchone()[0]
    cur.execute(f"SELECT last_value, is_called FROM {seq}")
    return seq, cur.fetchone()


def _take_sequence(cur, table, value):
    seq = _sequence(cur, table)[0]
    cur.execute("SELECT setval(%s, %s, %s)", [seq, *value])


def _to_partitioned(cur, table, prefix, period, ahead, back, now):
    old = f"{table}_old"
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    cur.execute(f"SELECT count(*), min(ts), max(ts) FROM {table}")
    count, first, last = cur.fetchone()
    fks = _foreign_key(cur, table)
    seq, seq_value = _sequence(cur, table)
    cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cur.execute(f"ALTER SEQUENCE {seq} RENAME TO {old}_id_seq")
    cur.execute(f"ALTER TABLE {old} DROP CONSTRAINT IF EXISTS {prefix}_natural_key")
    cur.execute(f"ALTER TABLE {old} DROP CONSTRAINT IF EXISTS {table}_pkey")
    cur.execute(f"ALTER INDEX IF EXISTS {prefix}_ts_brin RENAME TO {old}_ts_brin")
    for name, _ in fks:
        cur.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')  # no check of old rows while copying

    cur.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (ts)"
    )
    _take_sequence(cur, table, seq_value)
    cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT WITH ({AUTOVACUUM})")
    now_lo = _floor(now, period)
    lo = max(_floor(first, period), now_lo - back * period) if first else now_lo
    lo = min(lo, now_lo)
    end = now_lo + (ahead + 1) * period
    start = lo
    cols = _columns(cur, old)
    copied = 0
    while lo < end:
        hi = lo + period
        part = f"{table}_p{lo:%Y%m%d}"
        cur.execute(
            f"CREATE TABLE {part} PARTITION OF {table} FOR VALUES FROM ({_lit(lo)}) TO ({_lit(hi)}) WITH ({AUTOVACUUM})"
        )
        if first is not None and lo <= last and hi > first:
            cur.execute(
                f"INSERT INTO {part} ({cols}) SELECT {cols} FROM {old} WHERE ts >= %s AND ts < %s ORDER BY series_id, ts",
                [lo, hi],
            )
            copied += max(cur.rowcount, 0)
        lo = hi
    cur.execute(
        f"INSERT INTO {table}_default ({cols}) SELECT {cols} FROM {old} WHERE ts < %s OR ts >= %s ORDER BY series_id, ts",
        [start, end],
    )
    copied += max(cur.rowcount, 0)
    if copied != count:
        raise RuntimeError(f"{table}: copied {copied} rows of {count}; nothing changed")
    cur.execute(f"DROP TABLE {old}")

    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {prefix}_natural_key UNIQUE (series_id, ts)")
    cur.execute(f"CREATE INDEX {prefix}_ts_brin ON {table} USING brin (ts)")
    for name, definition in fks:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cur.execute(f"ANALYZE {table}")


def _to_plain(cur, table, prefix):
    part = f"{table}_partitioned"
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    cur.execute(f"SELECT count(*) FROM {table}")
    count = cur.fetchone()[0]
    fks = _foreign_key(cur, table)
    seq, seq_value = _sequence(cur, table)
    cur.execute(f"ALTER TABLE {table} RENAME TO {part}")
    cur.execute(f"ALTER SEQUENCE {seq} RENAME TO {part}_id_seq")
    cur.execute(f"ALTER TABLE {part} DROP CONSTRAINT IF EXISTS {prefix}_natural_key")
    cur.execute(f"DROP INDEX IF EXISTS {prefix}_ts_brin")
    cur.execute(f"CREATE TABLE {table} (LIKE {part} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)")
    _take_sequence(cur, table, seq_value)
    cols = _columns(cur, part)
    cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {part} ORDER BY ts, series_id")
    if cur.rowcount != count:
        raise RuntimeError(f"{table}: copied {cur.rowcount} rows of {count}; nothing changed")
    cur.execute(f"DROP TABLE {part} CASCADE")
    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {prefix}_natural_key UNIQUE (series_id, ts)")
    cur.execute(f"CREATE INDEX {prefix}_ts_brin ON {table} USING brin (ts)")
    for name, definition in fks:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cur.execute(f"ANALYZE {table}")


def forwards(apps, schema_editor):
    now = timezone.now()
    with schema_editor.connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")  # index builds after the load
        cur.execute("SET LOCAL work_mem = '256MB'")  # one period's sort by series
        for table, (prefix, period, ahead, back) in TABLES.items():
            _to_partitioned(cur, table, prefix, period, ahead, back, now)


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for table, (prefix, *_rest) in TABLES.items():
            _to_plain(cur, table, prefix)


class Migration(migrations.Migration):
    dependencies = [("ops", "0018_alerts_rules")]

    # The database layout changes; the models (and so the migration state) do not.
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
