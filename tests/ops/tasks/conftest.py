"""Real Celery worker processes for the tests in this package, one per queue, over real Redis.

Each worker is ``celery -A tests.ops.tasks.worker_app worker -Q <queue> --pool solo`` with the
pytest-django test database as its DATABASE_URL and this run's Redis db as broker; every worker
started is killed when the test ends, and the queues are purged before and after.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
QUEUES = ("pollers", "alerts", "actions")


class Worker:
    def __init__(self, queue: str, env: dict[str, str], log_path: Path) -> None:
        self.queue, self.log_path = queue, log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.ops.tasks.worker_app", "worker", "-Q", queue,
             "--pool", "solo", "-n", f"{queue}-{uuid.uuid4().hex[:6]}@%h",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.queue} worker did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when the host or the OOM killer takes it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class Beat:
    """``celery beat`` in its own process; ``ticks(name)`` are the times it sent that entry."""

    LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] Scheduler: Sending due task (\S+) ")

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.log_path = tmp_path / "beat.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.ops.tasks.worker_app", "beat", "-s", str(tmp_path / "beat-schedule"),
             "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def ticks(self, entry: str) -> list[datetime]:
        out = []
        for line in self.output().splitlines():
            m = self.LINE.match(line)
            if m and m.group(2) == entry:
                out.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _purge() -> None:
    from dashboard.celery import app

    with app.connection_for_write() as conn:
        for queue in QUEUES:
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def workers(tmp_path):
    """Start workers with ``workers.start("actions")``; all are killed at the end."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "AWS_MAX_ATTEMPTS": "1",
        "JOB_HEARTBEAT_SECONDS": "0.3",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[Worker] = []
    beats: list[Beat] = []

    class Starter:
        def beat(self, **overrides: str) -> Beat:
            """Celery beat with the product's schedule (settings overridden by ``overrides``)."""
            beat = Beat({**env, **overrides}, tmp_path)
            beats.append(beat)
            return beat

        def start(self, *queues: str) -> list[Worker]:
            new = [Worker(q, env, tmp_path / f"{q}-{len(started) + i}.log") for i, q in enumerate(queues)]
            started.extend(new)
            for w in new:
                w.wait_ready()
            return new

    _purge()
    yield Starter()
    for b in beats:
        b.stop()
    for w in started:
        w.kill()
    _purge()
