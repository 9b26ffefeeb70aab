"""A CloudTrail Lambda event → the change it describes (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ops.aws.cloudtrail import TrailEvent
from ops.models import ChangeKind
from ops.pollers.changes.parse import MalformedEvent, actor_of, base_name, change_of, tool_of


# An event time an hour ago, to the second, as CloudTrail writes it.
AT = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)


def _event(record: dict | str, **kw) -> TrailEvent:
    detail = record if isinstance(record, str) else json.dumps(record)
    return TrailEvent(event_id=kw.get("event_id", "e-1"), event_name=kw.get("event_name", ""), event_time=None,
                      username="", resources=(), detail=detail)


def _record(name: str, req: dict, resp: dict | None = None, **extra) -> dict:
    return {
        "eventID": "e-1", "eventName": name, "eventSource": "lambda.amazonaws.com", "eventTime": AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci",
                         "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "deploy-bot"}}},
        "userAgent": "aws-cli/2.15.30 Python/3.11", "requestParameters": req, "responseElements": resp, **extra,
    }


@pytest.mark.parametrize("name,base", [
    ("UpdateAlias20150331", "UpdateAlias"), ("UpdateFunctionConfiguration20150331v2", "UpdateFunctionConfiguration"),
    ("PutFunctionConcurrency20171031", "PutFunctionConcurrency"),
    ("PutProvisionedConcurrencyConfig20190930", "PutProvisionedConcurrencyConfig"), ("CreateFunction", "CreateFunction"),
])
def test_event_names_match_without_their_api_version(name, base):
    assert base_name(name) == base


def test_alias_update_gives_time_actor_tool_and_routing():
    c = change_of(_event(_record("UpdateAlias20150331", {"functionName": "arn:aws:lambda:us-east-1:1:function:checkout-api",
                                                        "name": "live", "functionVersion": "9"},
                                 {"name": "live", "functionVersion": "9",
                                  "routingConfig": {"additionalVersionWeights": {"8": 0.1}}})))
    assert (c.kind, c.function_name, c.alias, c.to_version, c.to_weights) == (ChangeKind.ALIAS, "checkout-api", "live", "9", {"8": 0.1})
    assert c.at == AT
    assert (c.actor, c.actor_arn, c.tool) == ("role/deploy-bot", "arn:aws:sts::1:assumed-role/deploy-bot/ci", "aws-cli")


def test_configuration_and_concurrency_say_what_changed():
    c = change_of(_event(_record("UpdateFunctionConfiguration20150331v2", {"functionName": "f", "memorySize": 1024, "timeout": 9})))
    assert (c.kind, c.after) == (ChangeKind.CONFIG, {"memory_mb": 1024, "timeout_s": 9})
    c = change_of(_event(_record("PutFunctionConcurrency20171031", {"functionName": "f", "reservedConcurrentExecutions": 1})))
    assert (c.kind, c.after) == (ChangeKind.CONCURRENCY, {"reserved_concurrency": 1})
    c = change_of(_event(_record("DeleteFunctionConcurrency20171031", {"functionName": "f"})))
    assert c.after == {"reserved_concurrency": None}
    c = change_of(_event(_record("PutProvisionedConcurrencyConfig20190930",
                                 {"functionName": "f", "qualifier": "live", "provisionedConcurrentExecutions": 5})))
    assert (c.kind, c.qualifier, c.after) == (ChangeKind.PROVISIONED, "live", {"provisioned_concurrency": 5})


def test_failed_calls_and_permission_changes_are_not_changes():
    assert change_of(_event(_record("UpdateAlias20150331", {"functionName": "f", "name": "live"}, errorCode="ResourceConflictException"))) is None
    assert change_of(_event(_record("AddPermission20150331v2", {"functionName": "f"}))) is None


@pytest.mark.parametrize("record,message", [
    ("{not json", "not JSON"),
    (_record("UpdateAlias20150331", {"name": "live", "functionVersion": "2"}), "names no function"),
    (_record("UpdateAlias20150331", {"functionName": "f", "functionVersion": "2"}), "names no alias"),
    (_record("UpdateAlias20150331", {"functionName": "f", "name": "live"}), "no function version"),
    ({**_record("PublishVersion20150331", {"functionName": "f"}), "eventTime": "yesterday"}, "not a time"),
    (_record("UpdateAlias20150331", {"functionName": "f", "name": "l", "functionVersion": "2",
                                     "routingConfig": {"additionalVersionWeights": {"1": "lots"}}}), "not numbers"),
])
def test_malformed_events_say_what_is_wrong(record, message):
    with pytest.raises(MalformedEvent, match=message):
        change_of(_event(record))


@pytest.mark.parametrize("agent,tool", [
    ("codedeploy.amazonaws.com", "CodeDeploy"), ("cloudformation.amazonaws.com", "CloudFormation"),
    ("console.amazonaws.com", "console"), ("AWS Internal", "console"), ("aws-cli/2.15.30 Python/3.11", "aws-cli"),
    ("Boto3/1.44.5 md/Botocore#1.44.5 lambda-ops", "Lambda Ops"), ("Terraform/1.7 (+https://www.terraform.io)", "Terraform"),
    ("curl/8", ""),
])
def test_tool_from_user_agent(agent, tool):
    assert tool_of(agent) == tool


def test_actor_of_each_identity_type():
    assert actor_of({"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice", "userName": "alice"}) == ("arn:aws:iam::1:user/alice", "user/alice")
    assert actor_of({"type": "Root", "arn": "arn:aws:iam::1:root"}) == ("arn:aws:iam::1:root", "root")
    assert actor_of({"type": "AWSService", "invokedBy": "codedeploy.amazonaws.com"}) == ("", "codedeploy.amazonaws.com")


@pytest.mark.parametrize("identity", [
    {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci", "sessionContext": "ctx"},
    {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci", "sessionContext": ["ctx"]},
    {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci", "sessionContext": {"sessionIssuer": "r"}},
    {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci",
     "sessionContext": {"sessionIssuer": {"userName": {"n": 1}}}},
])
def test_an_identity_member_of_the_wrong_type_counts_as_absent(identity):
    assert actor_of(identity) == ("arn:aws:sts::1:assumed-role/deploy-bot/ci", "assumed-role/deploy-bot/ci")
    c = change_of(_event({**_record("PublishVersion20150331", {"functionName": "f"}, {"version": "3"}),
                          "userIdentity": identity}))
    assert (c.actor, c.after) == ("assumed-role/deploy-bot/ci", {"version": "3"})


def test_identity_members_that_are_not_text_are_not_names():
    assert actor_of({"type": "IAMUser", "arn": ["a"], "userName": 7}) == ("", "")
    assert actor_of({"type": "AWSService", "invokedBy": {"x": 1}}) == ("", "")


def test_the_rising_version_is_the_one_deployed():
    from ops.models import AliasChange
    from ops.pollers.changes.merge import rising_version

    assert rising_version(AliasChange(from_version="8", to_version="9")) == "9"
    canary = AliasChange(from_version="8", to_version="8", to_weights={"9": 0.1})
    assert rising_version(canary) == "9"
    assert rising_version(AliasChange(from_version="8", from_weights={"9": 0.1}, to_version="9")) == "9"
    assert rising_version(AliasChange(from_version="8", to_version="8")) is None
