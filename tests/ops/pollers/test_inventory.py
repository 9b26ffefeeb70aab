import io
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from ops.aws import lambda_ as aws_lambda
from ops.aws.errors import AwsError
from ops.models import Alias, AliasChange, EventSourceMapping, Function, FunctionQueue, FunctionVersion, PollStatus, Queue
from ops.pollers.base import TransientPollError, poll_run
from ops.pollers.inventory import inventory_poll
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"
FAST = Config(retries={"max_attempts": 1})


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def _estate():
    """Two functions: 'orders' (alias live → v1, 10 % on v2, SQS source with a DLQ) and 'mailer'."""
    iam = boto3.client("iam", region_name=REGION, config=FAST)
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION, config=FAST)
    sqs = boto3.client("sqs", region_name=REGION, config=FAST)
    dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src_url = sqs.create_queue(
        QueueName="orders-in",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"3"}}'},
    )["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fail_url = sqs.create_queue(QueueName="mailer-failures")["QueueUrl"]
    fail_arn = sqs.get_queue_attributes(QueueUrl=fail_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    for name, mem, arch in [("orders", 1024, "arm64"), ("mailer", 256, "x86_64")]:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            MemorySize=mem,
            Timeout=30,
            Architectures=[arch],
            Tags={"team": "payments" if name == "orders" else "growth"},
        )
    lam.publish_version(FunctionName="orders")
    lam.update_function_configuration(FunctionName="orders", Description="v2")
    lam.publish_version(FunctionName="orders")
    lam.create_alias(
        FunctionName="orders",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=50)
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName="orders", BatchSize=10)
    lam.put_function_event_invoke_config(
        FunctionName="mailer",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": fail_arn}},
    )
    return lam


def _run(account):
    return poll_run(source="inventory", account=account, region=REGION, work=inventory_poll)


def _snapshot():
    return {
        "functions": sorted(Function.objects.values_list("name", "memory_mb", "architecture", "reserved_concurrency")),
        "versions": sorted(FunctionVersion.objects.values_list("function__name", "version")),
        "aliases": sorted(Alias.objects.values_list("name", "version")),
        "changes": AliasChange.objects.count(),
        "esm": EventSourceMapping.objects.count(),
        "links": sorted(FunctionQueue.objects.values_list("function__name", "queue__name", "role")),
    }


def test_inventory_reads_the_estate_and_a_second_run_changes_nothing(aws):
    _estate()
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    outcome = _run(account)
    assert outcome.ok and outcome.items == 2

    orders = Function.objects.get(name="orders")
    assert (orders.memory_mb, orders.architecture, orders.reserved_concurrency) == (1024, "arm64", 50)
    assert orders.tags == {"team": "payments"}
    assert sorted(orders.versions.values_list("version", flat=True)) == ["1", "2"]
    live = Alias.objects.get(function=orders, name="live")
    assert live.version == "1" and live.weights == {"2": 0.1}
    assert live.routing == [("1", 0.9), ("2", 0.1)]
    links = set(FunctionQueue.objects.values_list("function__name", "queue__name", "role"))
    assert links == {
        ("orders", "orders-in", "event_source"),
        ("orders", "orders-dlq", "source_dlq"),
        ("mailer", "mailer-failures", "on_failure"),
    }
    mailer = Function.objects.get(name="mailer")
    assert mailer.async_max_retries == 1 and mailer.on_failure_arn.endswith(":mailer-failures")
    assert Queue.objects.get(name="orders-in").max_receive_count == 3

    status = PollStatus.objects.get(source="inventory", account=account, region=REGION)
    assert status.last_success_at is not None and status.items == 2 and status.last_error_code == ""

    before = _snapshot()
    assert _run(account).ok
    assert _snapshot() == before


def test_alias_move_is_recorded_in_history(aws):
    lam = _estate()
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    _run(account)
    lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    _run(account)
    change = AliasChange.objects.filter(alias__name="live", source="observed").get()
    assert (change.from_version, change.from_weights, change.to_version, change.to_weights) == ("1", {"2": 0.1}, "2", {})
    assert Alias.objects.get(name="live").version == "2"


def test_deleted_function_is_marked_gone_with_history_kept(aws):
    lam = _estate()
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    _run(account)
    lam.delete_function(FunctionName="mailer")
    outcome = _run(account)
    assert outcome.ok
    mailer = Function.objects.get(name="mailer")
    assert mailer.gone_at is not None
    assert Function.objects.get(name="orders").gone_at is None
    assert any("no longer exist" in w for w in outcome.warnings)


def _stubbed_client(code: str, status: int):
    c = boto3.client("lambda", region_name=REGION, config=FAST)
    stub = Stubber(c)
    stub.add_client_error("list_functions", service_error_code=code, service_message="nope", http_status_code=status)
    stub.activate()
    return c


def test_throttling_is_recorded_and_raised_for_retry(aws, monkeypatch):
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    monkeypatch.setattr(aws_lambda, "client", lambda service, scope: _stubbed_client("TooManyRequestsException", 429))
    with pytest.raises(TransientPollError):
        _run(account)
    status = PollStatus.objects.get(source="inventory", account=account)
    assert status.last_error_code == "TooManyRequestsException"
    assert status.consecutive_failures == 1 and status.last_success_at is None


def test_access_denied_is_recorded_and_not_retried(aws, monkeypatch):
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    monkeypatch.setattr(aws_lambda, "client", lambda service, scope: _stubbed_client("AccessDeniedException", 403))
    outcome = _run(account)
    assert (outcome.ran, outcome.ok, outcome.error_code) == (True, False, "AccessDeniedException")
    status = PollStatus.objects.get(source="inventory", account=account)
    assert "nope" in status.last_error_message


def test_assume_role_into_second_account_sees_only_its_functions(aws):
    _estate()  # lives in the default account
    sts = boto3.client("sts", region_name=REGION, config=FAST)
    creds = sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/ro", RoleSessionName="test")["Credentials"]
    other = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    role = other.client("iam", region_name=REGION, config=FAST).create_role(
        RoleName="r", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    other.client("lambda", region_name=REGION, config=FAST).create_function(
        FunctionName="staging-only", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": _zip()}
    )
    account = AccountFactory(
        account_id="210987654321", regions=[REGION], role_arn="arn:aws:iam::210987654321:role/ro", external_id="lambda-ops"
    )
    assert _run(account).ok
    assert list(Function.objects.filter(account=account).values_list("name", flat=True)) == ["staging-only"]


def test_a_run_already_holding_the_lock_is_skipped(aws):
    from ops.pollers.base import advisory_lock

    account = AccountFactory(account_id="123456789012", regions=[REGION])
    calls = []

    def work(ctx):
        # While this run holds the lock, a nested run for the same scope must not run.
        calls.append("outer")
        from django.db import connections

        other = connections.create_connection("default")
        with other.cursor() as cur:
            from ops.pollers.base import _lock_key

            cur.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(f"poll:inventory:{account.pk}:{REGION}")])
            calls.append(cur.fetchone()[0])
        other.close()

    poll_run(source="inventory", account=account, region=REGION, work=work)
    assert calls == ["outer", False]
    with advisory_lock("anything") as got:
        assert got is True


def test_aws_error_classification():
    from botocore.exceptions import ClientError

    from ops.aws.errors import classify

    throttled = classify(
        ClientError({"Error": {"Code": "Throttling", "Message": "slow"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "X"),
        service="cloudwatch",
        operation="GetMetricData",
    )
    denied = classify(
        ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X"),
        service="lambda",
        operation="ListFunctions",
    )
    five = classify(
        ClientError({"Error": {"Code": "Weird", "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "X"),
        service="sqs",
        operation="ReceiveMessage",
    )
    assert (throttled.transient, denied.transient, five.transient) == (True, False, True)
    assert isinstance(denied, AwsError) and denied.code == "AccessDenied"


def test_unchanged_functions_cost_one_call_each_on_later_runs(aws):
    from ops.aws import usage

    _estate()
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    _run(account)
    usage.drain()
    _run(account)
    calls = {}
    for key, n, _units in usage.drain():
        calls[key.operation] = calls.get(key.operation, 0) + n
    # plus one GetAccountSettings per region: the reserved-concurrency drift check (its figure
    # did not move, so no function's concurrency is asked)
    assert calls == {"ListFunctions": 1, "ListEventSourceMappings": 1, "ListAliases": 2, "GetAccountSettings": 1}


def test_details_are_reread_when_stale_or_when_an_alias_points_at_an_unknown_version(aws, settings):
    from datetime import timedelta

    from django.utils import timezone

    lam = _estate()
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    _run(account)
    # A new version published and the alias moved to it: versions are read again.
    lam.update_function_configuration(FunctionName="orders", Description="v3")
    lam.publish_version(FunctionName="orders")
    lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="3", RoutingConfig={"AdditionalVersionWeights": {}})
    _run(account)
    assert "3" in set(FunctionVersion.objects.filter(function__name="orders").values_list("version", flat=True))
    # A tag change does not touch LastModified; it shows up once the details are stale.
    lam.tag_resource(Resource=Function.objects.get(name="mailer").arn, Tags={"team": "platform"})
    _run(account)
    assert Function.objects.get(name="mailer").tags == {"team": "growth"}
    Function.objects.update(detail_refreshed_at=timezone.now() - timedelta(seconds=settings.INVENTORY_DETAIL_REFRESH_SECONDS + 1))
    _run(account)
    assert Function.objects.get(name="mailer").tags == {"team": "platform"}


def test_function_listing_follows_pagination(aws, monkeypatch):
    from ops.aws import client as aws_client

    c = boto3.client("lambda", region_name=REGION, config=FAST)
    stub = Stubber(c)

    def page(names, marker=None):
        body = {
            "Functions": [
                {"FunctionName": n, "FunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{n}", "MemorySize": 128, "Timeout": 3}
                for n in names
            ]
        }
        if marker:
            body["NextMarker"] = marker
        return body

    stub.add_response("list_functions", page(["a", "b"], "m1"), {})
    stub.add_response("list_functions", page(["c"]), {"Marker": "m1"})
    stub.activate()
    monkeypatch.setattr(aws_lambda, "client", lambda service, scope: c)
    scope = aws_client.Scope(account_id="123456789012", region=REGION)
    assert [f.name for f in aws_lambda.functions_list(scope)] == ["a", "b", "c"]
    stub.assert_no_pending_responses()


def test_a_role_that_cannot_be_assumed_is_recorded_and_other_accounts_keep_polling(aws, monkeypatch):
    from botocore.exceptions import ClientError

    from ops.tasks import pollers as tasks
    from ops.aws import client as aws_client
    from ops.aws.errors import classify

    _estate()
    good = AccountFactory(name="prod", account_id="123456789012", regions=[REGION])
    bad = AccountFactory(
        name="locked", account_id="333333333333", regions=[REGION], role_arn="arn:aws:iam::333333333333:role/ro"
    )

    def refuse(scope):
        err = ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform sts:AssumeRole"},
             "ResponseMetadata": {"HTTPStatusCode": 403}},
            "AssumeRole",
        )
        raise classify(err, service="sts", operation="AssumeRole")

    monkeypatch.setattr(aws_client, "_assume_role", refuse)
    assert tasks.poll_inventory(bad.pk, REGION) == 0
    assert tasks.poll_inventory(good.pk, REGION) == 2
    failed = PollStatus.objects.get(account=bad)
    assert failed.last_error_code == "AccessDenied" and "sts:AssumeRole" in failed.last_error_message
    assert PollStatus.objects.get(account=good).healthy


def test_repeated_warnings_are_kept_once_with_their_latest_time():
    from datetime import timedelta

    from ops.pollers.base import _merge_warnings
    from tests.clock import hours_ago

    t1 = hours_ago(days=2)
    t2 = t1 + timedelta(days=1)
    first = _merge_warnings([], ["insights truncated", "bad line", "insights truncated"], t1)
    assert [w["message"] for w in first] == ["insights truncated", "bad line"]
    second = _merge_warnings(first, ["insights truncated"], t2)
    assert [(w["message"], w["at"]) for w in second] == [
        ("bad line", t1.isoformat()),
        ("insights truncated", t2.isoformat()),
    ]


def test_two_writers_meeting_a_new_alias_at_once_record_it_once():
    """The changes poller's re-read and an inventory run hold different run locks: both may find
    a new alias missing and insert it. The second waits on the natural key and must then take
    the first's row, not fail the run with an IntegrityError."""
    import threading
    import time

    from django.db import connection, transaction
    from django.utils import timezone

    from ops.pollers import inventory
    from tests.factories import FunctionFactory

    fn = FunctionFactory()
    info = aws_lambda.AliasInfo(name="live", arn=f"{fn.arn}:live", version="3", weights={}, description="",
                                revision_id="r1")
    now = timezone.now()
    errors, pid = [], []
    ready = threading.Event()

    def second_writer():
        try:
            pid.append(connection.cursor().connection.info.backend_pid)
            ready.set()
            with transaction.atomic():
                inventory._aliases_upsert(fn, [info], now)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            ready.set()
            connection.close()

    with transaction.atomic():  # the first writer, not committed yet
        inventory._aliases_upsert(fn, [info], now)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            mine = cur.fetchone()[0]
        thread = threading.Thread(target=second_writer)
        thread.start()
        ready.wait(30)
        blocked = False
        for _ in range(300):  # until the second writer's INSERT waits on ours (at most ~30 s)
            with connection.cursor() as cur:
                cur.execute("SELECT %s = ANY(pg_blocking_pids(%s))", [mine, pid[0]])
                blocked = cur.fetchone()[0]
            if blocked or not thread.is_alive():
                break
            time.sleep(0.1)
        assert blocked
    thread.join(30)
    assert errors == []
    alias = Alias.objects.get(function=fn)
    assert (alias.name, alias.version) == ("live", "3")
    assert list(AliasChange.objects.filter(alias=alias).values_list("source", "to_version")) == [("created", "3")]
