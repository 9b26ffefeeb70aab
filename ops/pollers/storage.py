"""Bulk writes for the telemetry tables: COPY into a staging table, then one INSERT … ON CONFLICT.

Measured on this machine class (research/perf-reliability-facts.md §6): COPY ≈ 350k rows/s,
server-side ``INSERT … SELECT … ON CONFLICT`` ≈ 147–232k rows/s, client multi-VALUES upserts
≈ 73k rows/s, single-row saves ≈ 2.7k rows/s. So the hot path never saves rows one by one:

1. ``CREATE TEMP TABLE … AS SELECT <columns> FROM <table> WITH NO DATA`` — same types, no
   constraints, no indexes, dropped at the end of the transaction;
2. ``COPY`` the rows into it;
3. ``INSERT INTO <table> SELECT … FROM stage ON CONFLICT (<natural key>) DO UPDATE SET`` only
   the columns the caller owns (the metrics and logs pollers share MinuteStat rows and must not
   clobber each other's columns), ``WHERE`` something actually changed — re-reading an
   unchanged window then writes no new tuple versions at all.

Rows whose foreign key vanished meanwhile (a function deleted mid-poll) are dropped by an
``EXISTS`` guard instead of failing the whole batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from django.db import connection, transaction

_names = itertools.count()


def bulk_upsert(
    *,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    update: Sequence[str] | None = None,
    fk_guard: tuple[str, str] | None = None,
) -> int:
    """Upsert ``rows`` (tuples in ``columns`` order, unique on ``key``) into ``table``.

    ``update``: the columns to overwrite on conflict (default: every non-key column given).
    ``fk_guard``: (column, referenced table) — skip rows whose parent row no longer exists.
    Returns the number of rows inserted or changed (unchanged conflicting rows are not counted).
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    update = [c for c in columns if c not in key] if update is None else list(update)
    cols = ", ".join(columns)
    stage = f"_stage_{table}_{next(_names)}"
    src = f"SELECT {cols} FROM {stage} s"
    if fk_guard:
        fk_col, parent = fk_guard
        src += f" WHERE EXISTS (SELECT 1 FROM {parent} p WHERE p.id = s.{fk_col})"
    if update:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        old = ", ".join(f"{table}.{c}" for c in update)
        new = ", ".join(f"EXCLUDED.{c}" for c in update)
        # ROW(...) so that a single column also compares as a row.
        conflict = f"DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    else:
        conflict = "DO NOTHING"
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
        with cur.cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {table} ({cols}) {src} ON CONFLICT ({', '.join(key)}) {conflict}")
        changed = cur.rowcount
        cur.execute(f"DROP TABLE {stage}")
    return max(changed, 0)
