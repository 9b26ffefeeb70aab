"""Shared fixtures: one in-process sandbox server for the session, boto3 clients against it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from sandbox.testing import start_server  # noqa: E402
from sandbox_aws import make_client  # noqa: E402


@pytest.fixture(scope="session")
def server():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture()
def clean(server):
    server.reset()
    yield server


@pytest.fixture()
def aws(server):
    def factory(service: str, **kw):
        return make_client(server.endpoint, service, **kw)
    return factory
