import pytest
from django.core.management import CommandError, call_command

from ops.models import Account, AuditEntry

pytestmark = pytest.mark.django_db


def test_createuser_gives_exactly_one_role():
    from django.contrib.auth.models import User

    call_command("createuser", "olga", "--role", "operator", "--password", "long-enough-1")
    call_command("createuser", "vera", "--password", "long-enough-1")
    assert User.objects.get(username="olga").has_perm("ops.operate") is True
    assert User.objects.get(username="vera").has_perm("ops.operate") is False
    with pytest.raises(CommandError, match="at least 8"):
        call_command("createuser", "x", "--password", "short")


def test_account_add_validates_and_audits():
    call_command(
        "account", "add", "staging", "--account-id", "210987654321", "--regions", "us-east-1,eu-west-1",
        "--role-arn", "arn:aws:iam::210987654321:role/LambdaOpsReadOnly", "--external-id", "lambda-ops",
    )
    account = Account.objects.get(name="staging")
    assert account.regions == ["eu-west-1", "us-east-1"]
    assert AuditEntry.objects.get().action == "account.create"
    with pytest.raises(CommandError, match="account_id"):
        call_command("account", "add", "bad", "--account-id", "12", "--regions", "us-east-1")
    with pytest.raises(CommandError, match="regions"):
        call_command("account", "add", "bad2", "--account-id", "111111111111", "--regions", "Narnia")
