"""STS AssumeRole in the sandbox checks the external id the role's trust policy asks for."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.estate import EXTERNAL_ID, STAGING_ROLE_ARN
from tests.sandbox.sandbox_aws import CONFIG, make_client


@pytest.fixture
def sts(sandbox_server):
    sandbox_server.reset()
    from sandbox.testing import seed_estate

    seed_estate(sandbox_server, small=True)
    return boto3.client("sts", endpoint_url=sandbox_server.endpoint, region_name="us-east-1", config=CONFIG,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_right_external_id_assumes_the_role(sts):
    user = sts.assume_role(RoleArn=STAGING_ROLE_ARN, RoleSessionName="ok", ExternalId=EXTERNAL_ID)["AssumedRoleUser"]
    assert user["Arn"] == "arn:aws:sts::210987654321:assumed-role/LambdaOpsReadOnly/ok"


@pytest.mark.parametrize("extra", [{"ExternalId": "wrong"}, {}])
def test_a_wrong_or_missing_external_id_is_access_denied_as_aws_says_it(sts, extra):
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=STAGING_ROLE_ARN, RoleSessionName="no", **extra)
    err = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Code"] == "AccessDenied"
    assert err["Message"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {STAGING_ROLE_ARN}")


def test_a_role_whose_trust_allows_no_assume_is_refused(sandbox_server, sts):
    iam = make_client(sandbox_server.endpoint, "iam", account="210987654321")
    iam.create_role(RoleName="Closed", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    with pytest.raises(ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/Closed", RoleSessionName="no")
