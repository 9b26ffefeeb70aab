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


def test_account_import_reads_json_from_a_file(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text(
        '[{"name": "prod", "account_id": "123456789012", "regions": ["us-east-1", "eu-west-1"]},'
        ' {"name": "staging", "account_id": "210987654321", "regions": "us-east-1",'
        '  "role_arn": "arn:aws:iam::210987654321:role/LambdaOpsReadOnly", "external_id": "lambda-ops"}]'
    )
    call_command("account", "import", str(path))
    assert sorted(Account.objects.values_list("name", "role_arn")) == [
        ("prod", ""),
        ("staging", "arn:aws:iam::210987654321:role/LambdaOpsReadOnly"),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x"}]')
    with pytest.raises(CommandError, match="missing or bad field"):
        call_command("account", "import", str(bad))
