"""Keeping the telemetry tables' visibility maps current after bulk writes.

An index-only scan reads the heap for every entry on a page the visibility map does not mark
all-visible. Only VACUUM sets those bits, and autovacuum's defaults wait for 20 % of a table to
change: the roll-up tables (rewritten every few minutes for the trailing hours) and a freshly
loaded table then answer their "index-only" span probes and day reads with one heap fetch per
row (measured on the scale fixture: bench/bench_pages.py reports ``heap_fetches``). So:

- ``telemetry_vacuum`` runs VACUUM (optionally with ANALYZE) on the tables a bulk writer just
  wrote: the roll-up task after each run, the scale fixture after its load. VACUUM skips the
  pages already all-visible, so after a roll-up it reads only the few pages just written.
- ``AUTOVACUUM_SETTINGS`` are the storage parameters every telemetry table (or, for a
  partitioned one, every partition) gets, so autovacuum itself visits after 2 % of a table
  changed rather than 20 %; migration 0022 sets them on the ordinary tables.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from django.db import DatabaseError, connection

log = logging.getLogger(__name__)

AUTOVACUUM_SETTINGS = {
    "autovacuum_vacuum_scale_factor": 0.02,
    "autovacuum_analyze_scale_factor": 0.02,
    "autovacuum_vacuum_insert_scale_factor": 0.02,
}


def autovacuum_settings_sql() -> str:
    """The settings as ``WITH (...)`` / ``SET (...)`` text, for tables and partitions made later."""
    return ", ".join(f"{k} = {v}" for k, v in AUTOVACUUM_SETTINGS.items())


def telemetry_vacuum(*, tables: Sequence[str], analyze: bool = False) -> dict[str, float]:
    """VACUUM (and ANALYZE when asked) each of ``tables``; return seconds per table.

    VACUUM cannot run inside a transaction block: called inside one (a test's atomic block, a
    caller's transaction) it does nothing and says so in the log. A table that fails (say, it
    is locked for a migration) is logged and skipped; the writes it follows are committed
    already and autovacuum gets there later."""
    if connection.in_atomic_block:
        log.info("telemetry vacuum skipped: inside a transaction")
        return {}
    options = "(ANALYZE)" if analyze else ""
    out: dict[str, float] = {}
    for table in tables:
        t0 = time.monotonic()
        try:
            with connection.cursor() as cur:
                cur.execute(f"VACUUM {options} {connection.ops.quote_name(table)}")
        except DatabaseError:  # a vacuum never fails the write it follows
            log.exception("telemetry vacuum of %s failed", table)
            continue
        out[table] = round(time.monotonic() - t0, 3)
    return out
