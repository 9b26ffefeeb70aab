"""One real Celery worker (``dashboard``'s app, solo pool) on a queue of the test's own, over the
test database, this run's Redis and the sandbox: for tests that need tasks to run the way they
run in production."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


class SoloWorker:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.output = proc, ""


@contextmanager
def solo_worker(queue: str, *, aws: str):
    """Start the worker; on exit terminate it and keep its output (``.output``) for assertions."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "AWS_ENDPOINT_URL": aws,
        "AWS_MAX_ATTEMPTS": "1",
    }
    worker = SoloWorker(subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queue, "--pool", "solo", "-c", "1",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ))
    try:
        yield worker
    finally:
        worker.proc.terminate()
        worker.output = worker.proc.communicate(timeout=30)[0]
