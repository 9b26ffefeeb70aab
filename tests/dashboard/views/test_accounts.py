"""The accounts pages: admins only; add and edit check the role first and save nothing when it
cannot be assumed; the permission table on the account page and the status page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ops.models import Account, AuditEntry, PermissionCheck, PermissionState, PollStatus, Role
from ops.services.users import user_create
from sandbox.testing import EXTERNAL_ID, STAGING_ACCOUNT_ID, STAGING_ROLE_ARN, add_fault, seed_estate
from tests.factories import AccountFactory, make_user

pytestmark = pytest.mark.django_db
FORM = {"name": "staging", "account_id": STAGING_ACCOUNT_ID, "role_arn": STAGING_ROLE_ARN,
        "external_id": EXTERNAL_ID, "regions": "us-east-1, eu-west-1", "enabled": "on"}


@pytest.fixture
def admin(client):
    user = user_create(username="root-admin", password="correct-horse-42", role=Role.OPERATOR, admin=True)
    client.force_login(user)
    return client


@pytest.fixture
def sandbox(aws):
    seed_estate(aws, small=True)
    return aws


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_admins_see_or_change_accounts(client, role):
    account = AccountFactory()
    client.force_login(make_user(role))
    for name, args in [("accounts", []), ("account", [account.pk]), ("account-add", []), ("account-edit", [account.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    assert client.post(reverse("account-add"), FORM).status_code == 403
    assert client.post(reverse("account-check", args=[account.pk])).status_code == 403
    assert not Account.objects.filter(name="staging").exists()


@pytest.mark.parametrize("field, value, message", [
    ("account_id", "12345", "An AWS account id is 12 digits; &#x27;12345&#x27; is not."),
    ("role_arn", "arn:aws:iam::210987654321:user/bob", "Not an IAM role ARN"),
    ("role_arn", "arn:aws:iam::111111111111:role/LambdaOps", "The role is in account 111111111111, not 210987654321"),
    ("regions", "us-east-1, mars-north-1", "Not an AWS region: mars-north-1."),
    ("external_id", "has spaces in it", "An external id is 2 to 1,224"),
])
def test_malformed_input_is_named_and_nothing_is_saved(admin, field, value, message):
    resp = admin.post(reverse("account-add"), {**FORM, field: value})
    assert resp.status_code == 400
    assert message in resp.content.decode()
    assert not Account.objects.exists() and not AuditEntry.objects.exists()


def test_adding_an_account_checks_it_saves_it_and_shows_its_permission_table(admin, sandbox):
    add_fault(sandbox, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException",
              account=STAGING_ACCOUNT_ID, region="us-east-1")
    resp = admin.post(reverse("account-add"), FORM, follow=True)
    account = Account.objects.get(name="staging")
    assert resp.redirect_chain == [(reverse("account", args=[account.pk]), 302)]
    page = resp.content.decode()
    assert "staging added: 1 of " in page and "cloudtrail:LookupEvents (us-east-1)" in page
    assert account.regions == ["eu-west-1", "us-east-1"] and account.external_id == EXTERNAL_ID
    assert page.count('data-action="cloudtrail:LookupEvents" data-state="denied"') == 1
    assert page.count('data-action="cloudtrail:LookupEvents" data-state="granted"') == 1
    assert "deploys are dated by ExecutedVersion (their first invocations), a minute late" in page
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["account.create", "account.permission_check"]


def test_a_wrong_external_id_is_refused_with_the_aws_error_code(admin, sandbox):
    resp = admin.post(reverse("account-add"), {**FORM, "external_id": "guess-again"})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "Not saved." in page and "AccessDenied: the role cannot be assumed (sts:AssumeRole)" in page
    assert not Account.objects.exists() and not PermissionCheck.objects.exists()


def test_a_region_that_is_not_enabled_is_refused_by_name(admin, sandbox):
    add_fault(sandbox, service="lambda", operation="ListFunctions", error="UnrecognizedClientException",
              status=403, region="eu-west-1")
    resp = admin.post(reverse("account-add"), FORM)
    assert resp.status_code == 400
    assert "eu-west-1: eu-west-1 is not enabled for this account" in resp.content.decode()
    assert not Account.objects.exists()


def test_the_same_account_twice_is_refused(admin, sandbox):
    AccountFactory(name="other", account_id=STAGING_ACCOUNT_ID)
    resp = admin.post(reverse("account-add"), FORM)
    assert resp.status_code == 400 and "already configured, as &#x27;other&#x27;" in resp.content.decode()


def test_editing_checks_again_and_disabling_needs_no_check(admin, sandbox):
    admin.post(reverse("account-add"), FORM)
    account = Account.objects.get(name="staging")
    edit = reverse("account-edit", args=[account.pk])
    assert admin.get(edit).status_code == 200
    resp = admin.post(edit, {**FORM, "external_id": "changed-wrongly"})
    assert resp.status_code == 400 and "AccessDenied" in resp.content.decode()
    assert Account.objects.get(pk=account.pk).external_id == EXTERNAL_ID  # nothing saved half-way
    # Disabling works even with the wrong external id: nothing is checked, nothing is polled.
    resp = admin.post(edit, {**FORM, "external_id": "changed-wrongly", "enabled": "", "account_id": "999999999999"})
    assert resp.status_code == 302
    account.refresh_from_db()
    assert account.enabled is False and account.account_id == STAGING_ACCOUNT_ID
    assert AuditEntry.objects.order_by("-id").first().parameters["enabled"] is False


def test_rechecking_shows_a_newly_denied_permission_here_and_on_the_status_page(admin, sandbox):
    admin.post(reverse("account-add"), FORM)
    account = Account.objects.get(name="staging")
    PollStatus.objects.create(source="inventory", account=account, region="eu-west-1")
    add_fault(sandbox, service="lambda", operation="ListFunctions", error="AccessDeniedException",
              account=STAGING_ACCOUNT_ID, region="eu-west-1")
    resp = admin.post(reverse("account-check", args=[account.pk]), follow=True)
    assert "lambda:ListFunctions (eu-west-1)" in resp.content.decode()
    denied = PermissionCheck.objects.filter(account=account, state=PermissionState.DENIED)
    assert list(denied.values_list("region", "action")) == [("eu-west-1", "lambda:ListFunctions")]
    status = admin.get(reverse("status")).content.decode()
    assert 'data-scope="staging/eu-west-1" data-action="lambda:ListFunctions" data-state="denied"' in status
    assert "no functions are listed for this account and region" in status
    # "poll now" for that scope is shown disabled with the reason
    assert 'disabled title="lambda:ListFunctions is denied for staging/eu-west-1 (AccessDeniedException' in status


def test_the_list_and_the_empty_states_say_why(admin):
    page = admin.get(reverse("accounts")).content.decode()
    assert "No AWS accounts are configured yet." in page
    AccountFactory(name="prod")
    page = admin.get(reverse("accounts")).content.decode()
    assert 'data-account="prod"' in page and "not checked yet" in page
    status = admin.get(reverse("status")).content.decode()
    assert "No permission check has run yet" in status


def test_a_scope_where_nothing_could_be_checked_is_one_row_on_the_status_page(admin, sandbox):
    from ops.services.permissions import permission_check

    admin.post(reverse("account-add"), {**FORM, "regions": "us-east-1"})
    account = Account.objects.get(name="staging")
    account.external_id = "rotated-on-the-aws-side"
    account.save()
    permission_check(account=account, actor="tests")
    status = admin.get(reverse("status")).content.decode()
    assert status.count('data-scope="staging/us-east-1"') == 1
    from ops.aws.permissions import checked_actions

    assert f"all {len(checked_actions())} permissions" in status and "AccessDenied: the role cannot be assumed" in status
