"""Shared fixtures: real Postgres (pytest-django), real Redis, AWS over HTTP to the sandbox.

The sandbox (moto plus the fill-ins for what moto lacks: small pages, percentiles, message
moves, …) runs in-process on a loopback port for the whole session; each test that uses ``aws``
starts from an empty estate. boto3 finds it through ``AWS_ENDPOINT_URL``, exactly as the
product finds the sandbox or real AWS.
"""

from __future__ import annotations

import os

import pytest

from tests.estate import client_in, estate, viewer  # noqa: F401  (the known estate's fixtures, for every test)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


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


@pytest.fixture
def redis_client(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.ping()
    return client
