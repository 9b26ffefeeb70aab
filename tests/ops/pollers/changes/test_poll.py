"""The changes poller against the sandbox's CloudTrail: dedup by EventId, malformed events,
the cursor, and LookupEvents' pages."""

from __future__ import annotations

import io
import time
import uuid
import zipfile

import boto3
import pytest

from ops.aws import usage
from ops.models import Change, ChangeKind, Function, PollStatus
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from sandbox.testing import cloudtrail_delay
from tests.factories import AccountFactory
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, FAST, REGION

pytestmark = pytest.mark.django_db(transaction=True)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


@pytest.fixture
def lam(aws, sandbox_server):
    cloudtrail_delay(sandbox_server, 0)
    role = boto3.client("iam", region_name=REGION, config=FAST).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    client = boto3.client("lambda", region_name=REGION, config=FAST)
    client.create_function(FunctionName="orders", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="app.handler",
                           Code={"ZipFile": _zip()}, MemorySize=512, Timeout=10)
    return client


def _run(account):
    return poll_run(source="changes", account=account, region=REGION, work=changes_poll)


def _state():
    return sorted(Change.objects.values_list("event_id", "at", "event_name", "summary", "actor"))


def test_a_rerun_stores_nothing_twice_and_the_cursor_moves(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    lam.update_function_configuration(FunctionName="orders", MemorySize=1024)
    first = _run(account)
    assert first.ok and first.items == 2  # CreateFunction and the update
    stored = _state()
    update = Change.objects.get(kind=ChangeKind.CONFIG)
    assert update.summary == "memory 512 MB → 1024 MB" and update.before == {"memory_mb": 512}
    assert Function.objects.get(name="orders").memory_mb == 1024  # re-read at once
    cursor = PollStatus.objects.get(source="changes").cursor
    second = _run(account)
    assert second.ok and second.items == 0
    assert _state() == stored
    assert PollStatus.objects.get(source="changes").cursor["until"] > cursor["until"]


def test_a_malformed_event_is_recorded_and_the_rest_stored(lam, sandbox_server):
    from sandbox.fills.cloudtrail import TRAIL

    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    now = time.time()
    bad = {"eventID": str(uuid.uuid4()), "eventName": "UpdateAlias20150331", "eventSource": "lambda.amazonaws.com",
           "eventTime": "not a time", "userIdentity": {}, "requestParameters": {"functionName": "orders", "name": "live"},
           "readOnly": False, "_epoch": now, "_resources": []}
    TRAIL.add(ACCOUNT_ID, REGION, bad, now)
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=3)
    outcome = _run(account)
    assert outcome.ok
    assert sorted(Change.objects.values_list("event_name", flat=True)) == ["CreateFunction", "PutFunctionConcurrency"]
    assert any(bad["eventID"] in w and "not a time" in w for w in outcome.warnings)
    status = PollStatus.objects.get(source="changes")
    assert any(bad["eventID"] in w["message"] for w in status.warnings) and status.last_error_code == ""
    assert Function.objects.get(name="orders").reserved_concurrency == 3


def test_lookups_are_paged_at_50_and_every_event_stored(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    for i in range(60):
        lam.update_function_configuration(FunctionName="orders", Timeout=10 + i)
    usage.drain()
    outcome = _run(account)
    assert outcome.ok and outcome.items == 61
    calls = sum(n for key, n, _ in usage.drain() if key.operation == "LookupEvents")
    assert calls == 2  # 61 events: a page of 50 and one of 11
    assert Function.objects.get(name="orders").timeout_s == 69
    assert Change.objects.filter(kind=ChangeKind.CONFIG, after={"timeout_s": 69}).count() == 1


def test_functions_read_since_their_change_are_not_read_again(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    lam.update_function_configuration(FunctionName="orders", Timeout=20)
    time.sleep(1.1)  # CloudTrail's times are whole seconds
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    usage.drain()
    outcome = _run(account)
    assert outcome.ok and outcome.items == 2
    calls = {key.operation for key, _n, _u in usage.drain()}
    assert calls == {"LookupEvents"}  # a first run's history costs no burst of re-reads
    assert Function.objects.get(name="orders").timeout_s == 20
