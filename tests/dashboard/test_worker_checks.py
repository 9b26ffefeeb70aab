"""A worker refuses to start — non-zero exit, one clear line — when its database is missing or
unmigrated, or its broker unreachable; real ``celery worker`` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from dashboard.worker_checks import EX_CONFIG, EX_UNAVAILABLE

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _db_url(name: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


def _worker(**env) -> subprocess.CompletedProcess:
    queue = f"checks-{uuid.uuid4().hex[:8]}"  # nothing is ever sent there
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queue, "--pool", "solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, capture_output=True, text=True, timeout=90,
    )


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_worker_against_a_missing_database_exits_with_a_clear_message():
    name = f"lops_missing_{uuid.uuid4().hex[:8]}"
    proc = _worker(DATABASE_URL=_db_url(name))
    assert proc.returncode == EX_UNAVAILABLE, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if "refuses to start" in x)
    assert line.startswith(f"Lambda Ops worker refuses to start: database '{name}' at ")
    assert f'database "{name}" does not exist' in line and line.endswith("; check DATABASE_URL")
    assert " ready." not in proc.stdout + proc.stderr


def test_a_worker_against_an_unmigrated_database_exits_with_a_clear_message():
    name = f"{connection.settings_dict['NAME']}_empty_{uuid.uuid4().hex[:6]}"
    with connection.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        proc = _worker(DATABASE_URL=_db_url(name))
    finally:
        with connection.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    assert proc.returncode == EX_CONFIG, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if "refuses to start" in x)
    assert f"database '{name}' at " in line and " unapplied migration(s) (" in line
    assert line.endswith("run `manage.py migrate` before starting workers")
    assert " ready." not in proc.stdout + proc.stderr


def test_a_worker_whose_broker_cannot_be_reached_exits_with_a_clear_message():
    port = _closed_port()
    proc = _worker(DATABASE_URL=_db_url(connection.settings_dict["NAME"]), CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")
    assert proc.returncode == EX_UNAVAILABLE, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if "refuses to start" in x)
    assert line.startswith(f"Lambda Ops worker refuses to start: broker redis://127.0.0.1:{port}/0 cannot be reached (")
    assert line.endswith("check CELERY_BROKER_URL / REDIS_URL")
    assert " ready." not in proc.stdout + proc.stderr
