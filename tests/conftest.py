"""Shared fixtures: real Postgres (pytest-django), real Redis, AWS over HTTP to a moto server.

The moto server runs in-process on a loopback port for the whole session; each test that
uses ``aws`` starts from an empty estate (``/moto-api/reset``). boto3 finds it through
``AWS_ENDPOINT_URL``, exactly as the product finds the sandbox or real AWS.
"""

from __future__ import annotations

import os

import pytest
import requests

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def aws_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # The simple Lambda backend runs no Docker; it must be chosen before anything is created.
    requests.post(f"{endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=5)
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous
    server.stop()


@pytest.fixture
def aws(aws_server, settings):
    """An empty AWS estate over HTTP, and clients that fail fast (one attempt)."""
    from ops.aws import client as aws_client

    requests.post(f"{aws_server}/moto-api/reset", timeout=5)
    aws_client.forget_sessions()
    settings.AWS_MAX_ATTEMPTS = 1
    yield aws_server
    aws_client.forget_sessions()


@pytest.fixture
def redis_client(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.ping()
    return client
