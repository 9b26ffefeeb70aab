"""CloudTrail LookupEvents over HTTP: every Lambda write recorded, 50 a page with NextToken,
time filters, lookup attributes and the delivery delay."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from sandbox.testing import add_fault, cloudtrail_delay, cloudtrail_deliver


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


@pytest.fixture()
def lam(clean, aws):
    cloudtrail_delay(clean, 0)
    role = aws("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client = aws("lambda")
    client.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="app.handler",
                           Code={"ZipFile": _zip()}, MemorySize=256)
    return client


def _all(ct, **kw):
    events, token = [], None
    while True:
        page = ct.lookup_events(**kw, **({"NextToken": token} if token else {}))
        events.extend(page["Events"])
        token = page.get("NextToken")
        if not token:
            return events


def test_lambda_writes_are_events_with_suffixed_names_and_parameters(lam, aws):
    lam.publish_version(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    lam.update_function_configuration(FunctionName="fn", MemorySize=512, Timeout=9)
    lam.publish_version(FunctionName="fn")
    lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {"1": 0.2}})
    lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=7)
    lam.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=3)
    lam.get_function(FunctionName="fn")  # a read: not a management write event
    lam.invoke(FunctionName="fn", Payload=b"{}")  # a data event: not recorded

    events = _all(aws("cloudtrail"))
    names = [e["EventName"] for e in reversed(events)]
    assert names == ["CreateFunction20150331", "PublishVersion20150331", "CreateAlias20150331",
                     "UpdateFunctionConfiguration20150331v2", "PublishVersion20150331", "UpdateAlias20150331",
                     "PutFunctionConcurrency20171031", "PutProvisionedConcurrencyConfig20190930"]
    by_name = {e["EventName"]: json.loads(e["CloudTrailEvent"]) for e in events}
    alias = by_name["UpdateAlias20150331"]
    assert alias["requestParameters"]["functionName"] == "fn" and alias["requestParameters"]["name"] == "live"
    assert alias["requestParameters"]["functionVersion"] == "2"
    assert alias["responseElements"]["routingConfig"]["additionalVersionWeights"] == {"1": 0.2}
    assert alias["eventSource"] == "lambda.amazonaws.com" and alias["eventID"] == by_name["UpdateAlias20150331"]["eventID"]
    assert alias["userIdentity"]["type"] == "IAMUser" and alias["userIdentity"]["arn"].endswith(":user/moto")
    assert "Boto3" in alias["userAgent"]
    config = by_name["UpdateFunctionConfiguration20150331v2"]["requestParameters"]
    assert (config["memorySize"], config["timeout"]) == (512, 9)
    assert by_name["PutFunctionConcurrency20171031"]["requestParameters"]["reservedConcurrentExecutions"] == 7
    prov = by_name["PutProvisionedConcurrencyConfig20190930"]["requestParameters"]
    assert (prov["qualifier"], prov["provisionedConcurrentExecutions"]) == ("live", 3)
    first = events[-1]
    assert first["Resources"] == [{"ResourceType": "AWS::Lambda::Function", "ResourceName": "fn"}]
    assert first["EventId"] == json.loads(first["CloudTrailEvent"])["eventID"]


def test_pages_of_50_with_next_token(lam, aws):
    for i in range(119):
        lam.tag_resource(Resource=lam.get_function(FunctionName="fn")["Configuration"]["FunctionArn"], Tags={"n": str(i)})
    ct = aws("cloudtrail")
    first = ct.lookup_events()
    assert len(first["Events"]) == 50 and first["NextToken"]
    events = _all(ct)
    assert len(events) == 120  # CreateFunction + 119 TagResource
    assert len({e["EventId"] for e in events}) == 120
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first
    assert len(ct.lookup_events(MaxResults=7)["Events"]) == 7


def test_time_filters_and_lookup_attributes(lam, aws):
    time.sleep(1.1)
    middle = datetime.now(timezone.utc)
    time.sleep(1.1)
    lam.update_function_configuration(FunctionName="fn", Timeout=5)
    ct = aws("cloudtrail")
    after = _all(ct, StartTime=middle)
    assert [e["EventName"] for e in after] == ["UpdateFunctionConfiguration20150331v2"]
    before = _all(ct, EndTime=middle)
    assert [e["EventName"] for e in before] == ["CreateFunction20150331"]
    assert _all(ct, StartTime=middle + timedelta(hours=1)) == []
    by_name = _all(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateFunction20150331"}])
    assert len(by_name) == 1
    by_source = _all(ct, LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "lambda.amazonaws.com"}])
    assert len(by_source) == 2
    assert _all(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "fn"}]) == by_source
    assert _all(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "other"}]) == []
    one = _all(ct, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": after[0]["EventId"]}])
    assert [e["EventId"] for e in one] == [after[0]["EventId"]]


def test_delivery_delay_hides_recent_events(lam, aws, clean):
    ct = aws("cloudtrail")
    assert len(_all(ct)) == 1
    assert cloudtrail_delay(clean, 1.5)["delay_s"] == 1.5
    lam.update_function_configuration(FunctionName="fn", Timeout=4)
    assert len(_all(ct)) == 1  # called, not delivered yet
    time.sleep(1.6)
    assert len(_all(ct)) == 2


def test_held_events_can_be_delivered_at_once(lam, aws, clean):
    ct = aws("cloudtrail")
    assert len(_all(ct)) == 1
    cloudtrail_delay(clean, 3600)
    lam.update_function_configuration(FunctionName="fn", Timeout=4)
    lam.update_function_configuration(FunctionName="fn", Timeout=5)
    assert len(_all(ct)) == 1  # held for an hour
    assert cloudtrail_deliver(clean) == 2
    assert len(_all(ct)) == 3
    assert cloudtrail_deliver(clean) == 0
    lam.update_function_configuration(FunctionName="fn", Timeout=6)
    assert len(_all(ct)) == 3  # the delay still holds later events


def test_assumed_role_actor_and_denied_lookup(lam, aws, clean):
    import boto3

    from sandbox_aws import CONFIG

    sts = aws("sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/deploy-bot", RoleSessionName="ci-42")["Credentials"]
    bot = boto3.client("lambda", endpoint_url=clean.endpoint, region_name="us-east-1", config=CONFIG,
                       aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    bot.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=1)
    ct = aws("cloudtrail")
    event = json.loads(_all(ct)[0]["CloudTrailEvent"])
    ident = event["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"] == "arn:aws:sts::123456789012:assumed-role/deploy-bot/ci-42"
    assert ident["sessionContext"]["sessionIssuer"]["userName"] == "deploy-bot"
    add_fault(clean, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException")
    with pytest.raises(ct.exceptions.ClientError) as err:
        ct.lookup_events()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
