"""What a Celery worker checks before it says "ready", and why it refuses to start otherwise.

A worker started against a database that does not exist, or one that is not migrated to this
code, used to say "ready", take tasks and fail every one of them where the status page cannot
show it (the status rows live in that database). A worker that cannot reach its broker would
retry quietly for ever. Now each of these stops the worker at start-up with one clear line on
stderr and a non-zero exit status, which compose's restart policy, systemd or an operator sees:

- the database cannot be reached (wrong DATABASE_URL, database missing, server down): exit 69;
- it has migrations this code expects but that were not applied: exit 78 (run manage.py migrate);
- the broker (CELERY_BROKER_URL / REDIS_URL) cannot be reached after a few tries: exit 69.

Exit statuses follow sysexits.h (EX_UNAVAILABLE, EX_CONFIG).
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse

EX_UNAVAILABLE = 69
EX_CONFIG = 78
# A broker that is restarting (compose starting everything at once) gets this many tries,
# about ten seconds in all, before the worker gives up.
BROKER_TRIES = 4


class WorkerNotReady(Exception):
    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def database_check() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    where = f"{connection.settings_dict.get('HOST') or 'localhost'}:{connection.settings_dict.get('PORT') or 5432}"
    name = connection.settings_dict.get("NAME")
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001 - any failure here means the worker cannot work
        raise WorkerNotReady(
            f"database {name!r} at {where} cannot be used ({type(exc).__name__}: {_first_line(exc)}); check DATABASE_URL",
            EX_UNAVAILABLE,
        ) from exc
    finally:
        connection.close()  # a forked pool process must not share this connection
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3]) + (", …" if len(plan) > 3 else "")
        raise WorkerNotReady(
            f"database {name!r} at {where} has {len(plan)} unapplied migration(s) ({names});"
            " run `manage.py migrate` before starting workers",
            EX_CONFIG,
        )


def broker_check(app) -> None:
    url = app.conf.broker_url or ""
    parsed = urlparse(url)
    where = f"{parsed.scheme}://{parsed.hostname or ''}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=BROKER_TRIES - 1, interval_start=1, interval_step=2, interval_max=4)
    except Exception as exc:  # noqa: BLE001
        raise WorkerNotReady(
            f"broker {where} cannot be reached ({type(exc).__name__}: {_first_line(exc)}); check CELERY_BROKER_URL / REDIS_URL",
            EX_UNAVAILABLE,
        ) from exc


def refuse_unless_ready(sender=None, **kwargs) -> None:
    """``worker_init`` receiver. Celery logs and swallows an exception raised by a signal
    receiver, so the refusal is a SystemExit, which it lets through: the worker never starts."""
    app = getattr(sender, "app", None)
    try:
        database_check()
        if app is not None:
            broker_check(app)
    except WorkerNotReady as err:
        print(f"Lambda Ops worker refuses to start: {err}", file=sys.stderr, flush=True)
        raise SystemExit(err.exit_status) from None
