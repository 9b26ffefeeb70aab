"""The changes poller against the sandbox's CloudTrail: dedup by EventId, malformed events,
the cursor, and LookupEvents' pages."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from django.db import DataError, IntegrityError

from ops.aws import usage
from ops.models import Change, ChangeKind, Function, PollStatus, Quarantine, QuarantineReason
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


def _trail_add(record: dict, *, at: float | None = None) -> dict:
    """Put a raw CloudTrail record in the sandbox's trail (as an odd client would leave it), made
    at ``at`` (epoch; default now)."""
    from sandbox.fills.cloudtrail import TRAIL

    now = time.time() if at is None else at
    record = {"eventID": str(uuid.uuid4()), "eventSource": "lambda.amazonaws.com", "readOnly": False,
              "eventTime": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "userIdentity": {"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::1:user/alice"},
              "_epoch": now, "_resources": [], **record}
    TRAIL.add(ACCOUNT_ID, REGION, record, now)
    return record


def test_an_identity_of_the_wrong_shape_does_not_stop_the_poller(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    odd = _trail_add({"eventName": "PublishVersion20150331", "requestParameters": {"functionName": "orders"},
                      "responseElements": {"version": "1"},
                      "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy-bot/ci",
                                       "sessionContext": ["not", "an", "object"]}})
    outcome = _run(account)
    assert outcome.ok and outcome.items == 2
    row = Change.objects.get(event_id=odd["eventID"])
    assert (row.summary, row.actor) == ("published v1", "assumed-role/deploy-bot/ci")
    assert PollStatus.objects.get(source="changes").cursor["until"]


def test_an_event_the_parser_trips_on_is_malformed_and_the_rest_stored(lam, monkeypatch):
    from ops.pollers.changes import poll

    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    odd = _trail_add({"eventName": "PublishVersion20150331", "requestParameters": {"functionName": "orders"},
                      "responseElements": {"version": "1"}})
    parse = poll.change_of

    def tripping(event):
        if event.event_id == odd["eventID"]:
            raise KeyError("sessionIssuer")
        return parse(event)

    monkeypatch.setattr(poll, "change_of", tripping)
    outcome = _run(account)
    assert outcome.ok and outcome.items == 1
    assert list(Change.objects.values_list("event_name", flat=True)) == ["CreateFunction"]
    assert any(odd["eventID"] in w and "KeyError" in w for w in outcome.warnings)
    assert PollStatus.objects.get(source="changes").cursor["until"]


def test_nul_and_lone_surrogates_are_removed_before_storing(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    odd = _trail_add({"eventName": "UpdateFunctionConfiguration20150331v2",
                      "requestParameters": {"functionName": "orders", "memorySize": "10\u000024", "timeout": "9\ud800"},
                      "userAgent": "aws-cli/2.15\u0000 Python/3.11",
                      "userIdentity": {"type": "IAMUser", "userName": "al\ud83dice", "arn": "arn:aws:iam::1:user/al\u0000ice"}})
    outcome = _run(account)
    assert outcome.ok and outcome.items == 2
    row = Change.objects.get(event_id=odd["eventID"])
    assert row.after == {"memory_mb": "1024", "timeout_s": "9"}
    assert (row.user_agent, row.tool, row.actor, row.actor_arn) == (
        "aws-cli/2.15 Python/3.11", "aws-cli", "user/alice", "arn:aws:iam::1:user/alice")


def test_an_event_the_database_refuses_is_quarantined_and_the_rest_stored(lam):
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    odd = _trail_add({"eventName": "UpdateFunctionConfiguration20150331v2",
                      "requestParameters": {"functionName": "orders", "timeout": float("nan")}})
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=3)
    for _ in range(2):  # the window is read again: the event is counted once and nothing else moves
        outcome = _run(account)
        assert outcome.ok
        assert sorted(Change.objects.values_list("event_name", flat=True)) == ["CreateFunction", "PutFunctionConcurrency"]
        q = Quarantine.objects.get(source="changes", account=account, region=REGION)
        assert (q.reason, q.count) == (QuarantineReason.DB_REFUSED, 1)
        assert odd["eventID"] in q.samples[0]["detail"]
    assert Function.objects.get(name="orders").reserved_concurrency == 3
    assert PollStatus.objects.get(source="changes").cursor["until"]


def test_a_window_longer_than_the_page_limit_is_finished_by_the_next_runs(lam, settings):
    settings.CHANGES_MAX_PAGES = 1
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    base = time.time() - 3600  # an hour ago, ten seconds apart: out of every later run's trailing re-read
    for i in range(100):
        _trail_add({"eventName": "UpdateFunctionConfiguration20150331v2",
                    "requestParameters": {"functionName": "orders", "timeout": 100 + i}}, at=base + 10 * i)
    # Newest first, 50 a page: CreateFunction and the 49 newest updates, then 49 more (the
    # oldest one read is read again), then the last two.
    for items, short in ((50, True), (49, True), (2, False)):
        outcome = _run(account)
        status = PollStatus.objects.get(source="changes")
        assert (outcome.ok, outcome.items) == (True, items)
        assert ("not read yet" in status.last_shortfall) is short and ("backlog_until" in status.cursor) is short
        assert status.state == ("degraded" if short else "ok")
    assert set(status.cursor) == {"until"}
    assert sorted(Change.objects.filter(kind=ChangeKind.CONFIG).values_list("after__timeout_s", flat=True)) == list(range(100, 200))
    assert Change.objects.filter(event_name="CreateFunction").count() == 1


@pytest.mark.parametrize("refusal", [IntegrityError, DataError])
def test_a_reread_the_database_refuses_is_left_to_the_inventory(lam, monkeypatch, refusal):
    from ops.pollers import inventory

    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    lam.update_function_configuration(FunctionName="orders", MemorySize=1024)

    def refused(fn, aliases, now):
        raise refusal('duplicate key value violates unique constraint "alias_natural_key"')

    monkeypatch.setattr(inventory, "_aliases_upsert", refused)
    outcome = _run(account)
    assert outcome.ok and outcome.items == 2
    assert any(w.startswith(f"orders: re-read after its change not stored ({refusal.__name__})") for w in outcome.warnings)
    assert Change.objects.get(kind=ChangeKind.CONFIG).summary == "memory 512 MB → 1024 MB"
    fn = Function.objects.get(name="orders")
    assert (fn.memory_mb, fn.detail_refreshed_at) == (512, None)  # rolled back, flagged for the next inventory run
    monkeypatch.undo()
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    assert Function.objects.get(name="orders").memory_mb == 1024
