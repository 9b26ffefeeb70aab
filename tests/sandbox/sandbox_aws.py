"""boto3 clients against the sandbox for these tests (a uniquely named module, importable from tests)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from sandbox.estate import EXTERNAL_ID, PROD_ACCOUNT_ID, STAGING_ROLE_ARN

CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, disable_request_compression=True,
                read_timeout=120)


def make_client(endpoint: str, service: str, *, region: str = "us-east-1", account: str = PROD_ACCOUNT_ID):
    kw = dict(endpoint_url=endpoint, region_name=region, config=CONFIG,
              aws_access_key_id="testing", aws_secret_access_key="testing")
    if account != PROD_ACCOUNT_ID:
        sts = boto3.client("sts", **kw)
        creds = sts.assume_role(RoleArn=STAGING_ROLE_ARN, RoleSessionName="tests", ExternalId=EXTERNAL_ID)["Credentials"]
        kw.update(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])
    return boto3.client(service, **kw)
