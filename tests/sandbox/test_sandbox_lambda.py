"""Lambda fill-ins: DeadLetterConfig, event invoke config updates, pagination, provisioned
concurrency, account settings."""

from __future__ import annotations

import io
import json
import zipfile

import pytest


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


@pytest.fixture()
def lam(clean, aws):
    iam = aws("iam")
    role = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    client = aws("lambda")
    client.role_arn = role["Role"]["Arn"]
    return client


def create(lam, name, **kw):
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=lam.role_arn, Handler="app.handler",
                               Code={"ZipFile": _zip()}, **kw)


def test_dead_letter_config_is_kept(lam, aws):
    dlq = "arn:aws:sqs:us-east-1:123456789012:fn-dlq"
    created = create(lam, "fn", DeadLetterConfig={"TargetArn": dlq})
    assert created["DeadLetterConfig"] == {"TargetArn": dlq}
    assert lam.get_function_configuration(FunctionName="fn")["DeadLetterConfig"]["TargetArn"] == dlq
    assert lam.get_function(FunctionName="fn")["Configuration"]["DeadLetterConfig"]["TargetArn"] == dlq
    other = "arn:aws:sqs:us-east-1:123456789012:other-dlq"
    lam.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": other})
    assert lam.get_function_configuration(FunctionName="fn")["DeadLetterConfig"]["TargetArn"] == other
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "fn"][0]
    assert listed["DeadLetterConfig"]["TargetArn"] == other
    lam.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName="fn")


def test_event_invoke_config_updates_are_visible(lam):
    create(lam, "fn")
    dest = "arn:aws:sqs:us-east-1:123456789012:failures"
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=2,
                                         DestinationConfig={"OnFailure": {"Destination": dest}})
    lam.update_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    got = lam.get_function_event_invoke_config(FunctionName="fn")
    assert got["MaximumRetryAttempts"] == 0
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest  # update keeps what it does not name
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumEventAgeInSeconds=600)
    got = lam.get_function_event_invoke_config(FunctionName="fn")
    assert got["MaximumEventAgeInSeconds"] == 600 and "MaximumRetryAttempts" not in got  # put replaces
    assert len(lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"]) == 1


def test_list_calls_paginate_in_small_pages(lam):
    for i in range(12):
        create(lam, f"fn-{i:02d}")
    first = lam.list_functions()
    assert len(first["Functions"]) == 5 and first["NextMarker"]
    names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]]
    assert sorted(names) == [f"fn-{i:02d}" for i in range(12)]

    for b in range(6):
        lam.update_function_configuration(FunctionName="fn-00", Description=f"build {b}")
        lam.publish_version(FunctionName="fn-00")
    versions = [v["Version"] for p in lam.get_paginator("list_versions_by_function").paginate(FunctionName="fn-00")
                for v in p["Versions"]]
    assert versions == ["$LATEST", "1", "2", "3", "4", "5", "6"]
    assert "NextMarker" in lam.list_versions_by_function(FunctionName="fn-00")

    for i in range(7):
        lam.create_alias(FunctionName="fn-00", Name=f"a{i}", FunctionVersion=str(1 + i % 6))
    lam.update_alias(FunctionName="fn-00", Name="a0", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    aliases = [a for p in lam.get_paginator("list_aliases").paginate(FunctionName="fn-00") for a in p["Aliases"]]
    assert len(aliases) == 7
    assert aliases[0]["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    only_v1 = lam.list_aliases(FunctionName="fn-00", FunctionVersion="1")["Aliases"]
    assert {a["Name"] for a in only_v1} == {"a0", "a6"}


def test_provisioned_concurrency_and_account_settings(lam):
    from botocore.exceptions import ClientError

    create(lam, "fn")
    lam.publish_version(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="live",
                                                 ProvisionedConcurrentExecutions=10)
    assert put["RequestedProvisionedConcurrentExecutions"] == 10
    got = lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="live")
    assert got["Status"] == "READY" and got["AllocatedProvisionedConcurrentExecutions"] == 10
    listed = lam.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[-1] for c in listed] == ["live"]
    with pytest.raises(ClientError) as err:
        lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="1")
    assert err.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"

    lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=100)
    limits = lam.get_account_settings()["AccountLimit"]
    assert limits["ConcurrentExecutions"] == 1000
    assert limits["UnreservedConcurrentExecutions"] == 900


def test_logging_config_is_reported(lam):
    created = create(lam, "fn-json", LoggingConfig={"LogFormat": "JSON"})
    assert created["LoggingConfig"]["LogFormat"] == "JSON"
    create(lam, "fn-text")
    cfg = lam.get_function_configuration(FunctionName="fn-text")["LoggingConfig"]
    assert cfg == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn-text"}
