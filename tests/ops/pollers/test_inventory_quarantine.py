"""A function whose name AWS would reject is quarantined; the rest of the scope polls."""

import boto3
import pytest

from ops.models import Function, Quarantine
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from tests.factories import AccountFactory
from tests.ops.pollers.test_inventory import FAST, REGION, _zip

pytestmark = pytest.mark.django_db(transaction=True)
BAD_NAMES = ["<script>alert(1)</script>", "commande-été", "x" * 200]


def test_a_name_aws_would_reject_is_quarantined_and_the_scope_polls(aws):
    iam = boto3.client("iam", region_name=REGION, config=FAST)
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION, config=FAST)
    for name in ["orders", *BAD_NAMES, "mailer"]:  # the sandbox, unlike AWS, accepts them all
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": _zip()})
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    outcome = poll_run(source="inventory", account=account, region=REGION, work=inventory_poll)
    assert outcome.ok, outcome
    assert sorted(Function.objects.values_list("name", flat=True)) == ["mailer", "orders"]
    q = Quarantine.objects.get()
    assert (q.source, q.reason, q.count, q.region) == ("inventory", "bad_name", 3, REGION)
    assert {s["raw"][:30] for s in q.samples} == {n[:30] for n in BAD_NAMES}
    assert all(s["where"].startswith("arn:aws:lambda:us-east-1:123456789012:function:") for s in q.samples)
    # Polled again: the same three functions are not counted again.
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    assert Quarantine.objects.get().count == 3


def test_a_function_the_database_refuses_is_quarantined_alone(aws):
    iam = boto3.client("iam", region_name=REGION, config=FAST)
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION, config=FAST)
    lam.create_function(FunctionName="orders", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": _zip()})
    # AWS caps a handler at 128 characters; the sandbox does not
    lam.create_function(FunctionName="odd", Runtime="python3.12", Role=role, Handler="h" * 300, Code={"ZipFile": _zip()})
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    outcome = poll_run(source="inventory", account=account, region=REGION, work=inventory_poll)
    assert outcome.ok, outcome
    assert list(Function.objects.values_list("name", flat=True)) == ["orders"]
    q = Quarantine.objects.get()
    assert (q.reason, q.count, q.samples[0]["raw"]) == ("db_refused", 1, "odd")
    assert "database refused" in q.samples[0]["detail"]
