"""Shared fixtures: real Postgres (pytest-django), real Redis, AWS over HTTP to the sandbox.

The sandbox (moto plus the fill-ins for what moto lacks: small pages, percentiles, message
moves, …) runs in-process on a loopback port for the whole session; each test that uses ``aws``
starts from an empty estate. boto3 finds it through ``AWS_ENDPOINT_URL``, exactly as the
product finds the sandbox or real AWS.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.estate import client_in, estate, viewer  # noqa: F401  (the known estate's fixtures, for every test)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_test_environment):
    """Collect static files as production does (hashed names, .gz and .br), once per change.

    The suite runs with DEBUG off and the manifest storage, so ``{% static %}`` resolves through
    the manifest exactly as in production, and a template naming a missing file fails here too.
    Collecting compresses every file (about 9 s on this machine), so the result is kept in
    STATIC_ROOT with a fingerprint of every source file and of the storage; a run whose
    fingerprint matches reuses it, any change re-collects from scratch.
    """
    import hashlib

    from importlib.metadata import version

    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.core.management import call_command

    digest = hashlib.sha256(f"{version('django')} {version('whitenoise')} {version('brotli')} {settings.STORAGES}".encode())
    for finder in finders.get_finders():
        for path, storage in sorted(finder.list(ignore_patterns=None), key=lambda item: item[0]):
            digest.update(path.encode())
            with storage.open(path) as handle:
                digest.update(hashlib.sha256(handle.read()).digest())
    root = Path(settings.STATIC_ROOT)
    stamp = root / ".fingerprint"
    if not (stamp.exists() and stamp.read_text() == digest.hexdigest()):
        root.mkdir(parents=True, exist_ok=True)
        call_command("collectstatic", interactive=False, clear=True, verbosity=0)
        stamp.write_text(digest.hexdigest())
    return root


@pytest.fixture(scope="session")
def live_server(request, collected_static):
    """pytest-django's live server, but static files come the way production serves them.

    Django's test static handler looks files up in the source folders, where hashed names do not
    exist; without it, WhiteNoise answers from the collected STATIC_ROOT (compressed, immutable).
    """
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    server.thread.static_handler = lambda app: app
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_server():
    from sandbox.testing import start_server

    server = start_server()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    yield server
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous
    server.stop()


@pytest.fixture(scope="session")
def aws_server(sandbox_server):
    return sandbox_server.endpoint


@pytest.fixture
def aws(sandbox_server, settings):
    """An empty AWS estate over HTTP, and clients that fail fast (one attempt)."""
    from ops.aws import client as aws_client

    sandbox_server.reset()
    aws_client.forget_sessions()
    settings.AWS_MAX_ATTEMPTS = 1
    yield sandbox_server.endpoint
    aws_client.forget_sessions()


@pytest.fixture(autouse=True)
def one_minute_detail(settings):
    """Busy functions read every run and idle ones every 15 minutes, as before the detection
    trigger made both slower by default: the tests of everything downstream of the metrics poller
    poll a minute apart and expect the new minute. tests/ops/pollers/metrics/test_detect.py sets
    the product's defaults where it tests the cadence itself."""
    settings.METRICS_BUSY_POLL_SECONDS = 60
    settings.METRICS_IDLE_POLL_SECONDS = 900


@pytest.fixture
def redis_client(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.ping()
    return client
