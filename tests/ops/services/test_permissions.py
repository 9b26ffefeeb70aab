"""The permission check against the sandbox: the role assumed afresh, one probe per IAM action,
an injected AccessDenied shows as exactly that row denied with the feature that needs it."""

from __future__ import annotations

import pytest

from ops.aws.errors import AwsError
from ops.models import Account, AuditEntry, PermissionCheck, PermissionState
from ops.pollers.base import poll_run
from ops.selectors.permissions import permission_denied_reason, permission_denied_reasons, permission_table
from ops.services import permissions as svc
from sandbox.testing import EXTERNAL_ID, STAGING_ACCOUNT_ID, STAGING_ROLE_ARN, add_fault, seed_estate

pytestmark = pytest.mark.django_db
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def staging(aws):
    seed_estate(aws, small=True)
    return Account(name="staging", account_id=STAGING_ACCOUNT_ID, role_arn=STAGING_ROLE_ARN,
                   external_id=EXTERNAL_ID, regions=REGIONS)


def _states(account, region):
    return {r.action: r.state for r in permission_table(account=account, region=region)}


def test_an_account_whose_role_lacks_one_permission_shows_exactly_that_row_denied(aws, staging):
    add_fault(aws, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException",
              account=STAGING_ACCOUNT_ID, region="eu-west-1")
    report = svc.account_save_checked(account=staging, actor="tests")
    assert report.ok
    states = _states(staging, "eu-west-1")
    assert [a for a, s in states.items() if s != PermissionState.GRANTED] == ["cloudtrail:LookupEvents"]
    assert states["cloudtrail:LookupEvents"] == PermissionState.DENIED
    assert set(_states(staging, "us-east-1").values()) == {PermissionState.GRANTED}
    row = next(r for r in permission_table(account=staging, region="eu-west-1") if r.action == "cloudtrail:LookupEvents")
    assert row.code == "AccessDeniedException"
    assert [n.feature for n in row.needs] == ["deploy history"]
    assert "dated by ExecutedVersion" in row.needs[0].without
    assert len(row.needs) == 1 and PermissionCheck.objects.filter(account=staging).count() == 2 * len(states)
    assert AuditEntry.objects.filter(action="account.permission_check", target_id=STAGING_ACCOUNT_ID).get().parameters[
        "denied"] == ["eu-west-1:cloudtrail:LookupEvents"]


def test_a_wrong_external_id_saves_nothing_and_says_access_denied(aws, staging):
    staging.external_id = "not-the-one"
    with pytest.raises(svc.AccountCheckFailed) as exc:
        svc.account_save_checked(account=staging, actor="tests")
    assert str(exc.value).startswith("AccessDenied: the role cannot be assumed (sts:AssumeRole)")
    assert f"on resource: {STAGING_ROLE_ARN}" in str(exc.value)
    assert not Account.objects.exists() and not PermissionCheck.objects.exists()
    assert AuditEntry.objects.get().result == "failed"


def test_a_region_that_is_not_enabled_is_named_and_nothing_is_saved(aws, staging):
    add_fault(aws, service="lambda", operation="ListFunctions", error="UnrecognizedClientException",
              status=403, region="eu-west-1", message="The security token included in the request is invalid.")
    with pytest.raises(svc.AccountCheckFailed) as exc:
        svc.account_save_checked(account=staging, actor="tests")
    assert str(exc.value).startswith("eu-west-1: eu-west-1 is not enabled for this account")
    assert "UnrecognizedClientException" in str(exc.value)
    assert not Account.objects.exists()


def test_a_check_is_not_fooled_by_a_cached_session(aws, staging):
    from ops.aws.client import Scope, client

    svc.account_save_checked(account=staging, actor="tests")
    client("lambda", Scope(STAGING_ACCOUNT_ID, "us-east-1", STAGING_ROLE_ARN, EXTERNAL_ID))  # cached now
    # The role's trust changes under us: the same role and external id are now refused.
    add_fault(aws, service="sts", operation="AssumeRole", error="AccessDenied", account=None)
    report = svc.permission_check(account=staging, actor="tests")
    assert report.assume_error is not None and report.assume_error.code == "AccessDenied"
    assert set(_states(staging, "us-east-1").values()) == {PermissionState.NOT_CHECKED}
    assert PermissionCheck.objects.filter(account=staging).first().message.startswith("AccessDenied: the role cannot")


def test_a_denied_action_gives_its_job_kinds_a_reason_and_others_none(aws, staging):
    add_fault(aws, service="lambda", operation="UpdateAlias", error="AccessDeniedException",
              account=STAGING_ACCOUNT_ID, region="us-east-1")
    svc.account_save_checked(account=staging, actor="tests")
    reason = permission_denied_reason(account=staging, region="us-east-1", action="alias.rollback")
    assert reason.startswith("lambda:UpdateAlias is denied for staging/us-east-1 (AccessDeniedException, checked ")
    assert "rollback, finish canary and abort canary are disabled" in reason
    assert permission_denied_reason(account=staging, region="us-east-1", action="lambda:UpdateAlias") == reason
    assert permission_denied_reason(account=staging, region="eu-west-1", action="alias.rollback") is None
    assert permission_denied_reason(account=staging, region="us-east-1", action="poll.inventory") is None
    assert permission_denied_reason(account=staging, region="us-east-1", action="no.such.kind") is None
    assert permission_denied_reasons(action="alias.canary_abort") == {(staging.pk, "us-east-1"): reason}


def test_a_poll_that_meets_access_denied_asks_for_one_recheck(aws, staging, monkeypatch,
                                                               django_capture_on_commit_callbacks, settings):
    from django.core.cache import cache

    from ops.tasks import pollers as tasks

    svc.account_save_checked(account=staging, actor="tests")
    cache.delete(f"permission-recheck:{staging.pk}")
    sent = []
    monkeypatch.setattr(tasks.permissions_check, "delay", lambda pk: sent.append(pk))

    def denied(ctx):
        raise AwsError("cloudtrail", "LookupEvents", "AccessDeniedException", "not authorized", permanent=True)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert poll_run(source="changes", account=staging, region="us-east-1", work=denied).ok is False
    assert sent == [staging.pk]  # three denied polls, one re-check

    add_fault(aws, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException",
              account=STAGING_ACCOUNT_ID)
    assert tasks.permissions_check(staging.pk) == 2  # the task: both regions now say denied
    assert _states(staging, "us-east-1")["cloudtrail:LookupEvents"] == PermissionState.DENIED


def test_manage_py_account_check_prints_the_table_and_fails_when_the_role_is_refused(aws, staging, capsys):
    from django.core.management import CommandError, call_command

    staging.save()
    add_fault(aws, service="logs", operation="StartQuery", error="AccessDeniedException", account=STAGING_ACCOUNT_ID)
    call_command("account", "check", "staging")
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[:3] for ln in lines if "\tgranted" not in ln] == [
        ["us-east-1", "logs:StartQuery", "denied"], ["eu-west-1", "logs:StartQuery", "denied"]]
    assert lines[0].startswith("us-east-1\tlambda:ListFunctions\tgranted")
    staging.external_id = "nope"
    staging.save()
    with pytest.raises(CommandError, match="AccessDenied: the role cannot be assumed"):
        call_command("account", "check", "staging")
    with pytest.raises(CommandError, match="no account named 'ghost'"):
        call_command("account", "check", "ghost")
