import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from ops.models import Account, AuditEntry, Role
from ops.services.users import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = user_create(username="root-admin", password="correct-horse-42", role=Role.OPERATOR, admin=True)
    client.force_login(admin)
    client.admin = admin
    return client


def _entries():
    return list(AuditEntry.objects.order_by("id").values_list("actor_name", "action", "target_type", "target_label"))


def test_the_admin_creates_changes_and_deletes_accounts_through_the_service_and_audits(admin_client):
    form = {"name": "prod", "account_id": "123456789012", "regions": "us-east-1,eu-west-1", "role_arn": "",
            "external_id": "", "enabled": "on"}
    assert admin_client.post("/admin/ops/account/add/", form).status_code == 302
    account = Account.objects.get(name="prod")
    assert account.regions == ["us-east-1", "eu-west-1"]
    admin_client.post(f"/admin/ops/account/{account.pk}/change/", {**form, "enabled": ""})
    assert Account.objects.get(pk=account.pk).enabled is False
    admin_client.post(f"/admin/ops/account/{account.pk}/delete/", {"post": "yes"})
    assert not Account.objects.exists()
    assert _entries() == [
        ("root-admin", "account.create", "account", "prod"),
        ("root-admin", "account.update", "account", "prod"),
        ("root-admin", "account.delete", "account", "prod"),
    ]
    entry = AuditEntry.objects.get(action="account.update")
    assert entry.actor == admin_client.admin and entry.parameters["enabled"] is False


def test_the_admin_audits_user_changes(admin_client):
    vera = user_create(username="vera", password="correct-horse-42", role=Role.VIEWER)
    assert not AuditEntry.objects.exists()  # seeding without an actor is not a person's act
    form = {"username": "vera", "first_name": "Vera", "last_name": "", "email": "", "is_active": "on",
            "date_joined_0": "2020-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2020-01-01",
            "initial-date_joined_1": "00:00:00"}
    response = admin_client.post(f"/admin/auth/user/{vera.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(pk=vera.pk).first_name == "Vera"
    admin_client.post(f"/admin/auth/user/{vera.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(username="vera").exists()
    assert _entries() == [("root-admin", "user.update", "user", "vera"), ("root-admin", "user.delete", "user", "vera")]


def test_the_admin_audits_the_role_a_change_gives_and_a_password_change_without_the_password(admin_client):
    from django.contrib.auth.models import Group

    vera = user_create(username="vera", password="correct-horse-42", role=Role.VIEWER)
    operator = Group.objects.get(name=Role.OPERATOR)
    form = {"username": "vera", "first_name": "", "last_name": "", "email": "", "is_active": "on",
            "groups": [operator.pk], "date_joined_0": "2020-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2020-01-01", "initial-date_joined_1": "00:00:00"}
    assert admin_client.post(f"/admin/auth/user/{vera.pk}/change/", form).status_code == 302
    assert list(User.objects.get(pk=vera.pk).groups.values_list("name", flat=True)) == [Role.OPERATOR]
    secret = "a-new-long-passphrase-77"
    response = admin_client.post(f"/admin/auth/user/{vera.pk}/password/",
                                 {"password1": secret, "password2": secret, "usable_password": "true"})
    assert response.status_code == 302
    assert User.objects.get(pk=vera.pk).check_password(secret)
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.parameters["role"]) for e in entries] == [("user.update", "operator"), ("user.password", "operator")]
    assert all(secret not in str(e.parameters) + e.message for e in entries)
    # a refused change (passwords differ) writes nothing
    admin_client.post(f"/admin/auth/user/{vera.pk}/password/", {"password1": secret, "password2": "other-one-123456"})
    assert AuditEntry.objects.count() == 2


def test_poll_statuses_are_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/ops/pollstatus/add/").status_code == 403
    assert admin_client.get("/admin/ops/auditentry/add/").status_code == 403
    assert admin_client.get("/admin/ops/auditentry/").status_code == 200  # read, never written


def test_the_commands_write_through_services_that_audit():
    call_command("account", "add", "prod", "--account-id", "123456789012", "--regions", "us-east-1")
    call_command("account", "disable", "prod")
    assert Account.objects.get(name="prod").enabled is False
    with pytest.raises(CommandError, match="no account named 'nope'"):
        call_command("account", "disable", "nope")
    call_command("createuser", "olga", "--role", "operator", "--password", "long-enough-1")
    call_command("createuser", "olga", "--role", "viewer", "--password", "long-enough-2")
    call_command("token", "create", "olga", "--name", "grafana")
    assert [(a, act, t) for a, act, t, _ in _entries()] == [
        ("cli", "account.create", "account"),
        ("cli", "account.disable", "account"),
        ("cli", "user.create", "user"),
        ("cli", "user.update", "user"),
        ("cli", "api_token.create", "api_token"),
    ]
    assert AuditEntry.objects.get(action="user.update").parameters["role"] == Role.VIEWER


def test_a_token_revoked_twice_is_audited_once():
    from ops.services.api_tokens import api_token_create, api_token_revoke

    olga = user_create(username="olga", password="correct-horse-42", role=Role.VIEWER)
    token, _raw = api_token_create(user=olga, name="grafana", actor=olga)
    api_token_revoke(token=token, actor=olga)
    api_token_revoke(token=token, actor=olga)
    assert [a for _, a, _, _ in _entries()] == ["api_token.create", "api_token.revoke"]
