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

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from sandbox.estate import EXTERNAL_ID, PROD_ACCOUNT_ID, STAGING_ROLE_ARN  # noqa: E402
from sandbox.testing import start_server  # noqa: E402

CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, disable_request_compression=True,
                read_timeout=120)


@pytest.fixture(scope="session")
def server():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture()
def clean(server):
    server.reset()
    yield server


def make_client(endpoint: str, service: str, *, region: str = "us-east-1", account: str = PROD_ACCOUNT_ID):
    kw = dict(endpoint_url=endpoint, region_name=region, config=CONFIG,
              aws_access_key_id="testing", aws_secret_access_key="testing")
    if account != PROD_ACCOUNT_ID:
        sts = boto3.client("sts", **kw)
        creds = sts.assume_role(RoleArn=STAGING_ROLE_ARN, RoleSessionName="tests", ExternalId=EXTERNAL_ID)["Credentials"]
        kw.update(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])
    return boto3.client(service, **kw)


@pytest.fixture()
def aws(server):
    def factory(service: str, **kw):
        return make_client(server.endpoint, service, **kw)
    return factory
