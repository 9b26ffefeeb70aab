"""API tokens: the service (expiry, revocation, last-used once a minute), manage.py token, the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone as tz
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone

from ops.models import AuditEntry, Role
from ops.models.api import ApiToken
from ops.services.api_tokens import (
    TokenRefused,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from ops.services.users import user_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _actions():
    return list(AuditEntry.objects.order_by("id").values_list("actor_name", "action", "target_type"))


def test_a_token_authenticates_until_revoked_and_says_why_it_is_refused():
    user = make_user(Role.VIEWER, "vera")
    token, raw = api_token_create(user=user, name="grafana")
    assert raw.startswith("lops_") and token.prefix == raw[:12] and len(token.token_hash) == 64
    assert raw not in token.token_hash
    assert api_token_authenticate(raw=raw).user == user
    for bad, reason in [("", "unknown API token"), ("lops_nope", "unknown API token"), ("x" * 201, "unknown API token")]:
        with pytest.raises(TokenRefused, match=reason):
            api_token_authenticate(raw=bad)
    assert api_token_revoke(token=token, actor="cli") is True
    assert api_token_revoke(token=token, actor="cli") is False  # nothing written the second time
    with pytest.raises(TokenRefused, match=rf"API token {token.prefix}… was revoked"):
        api_token_authenticate(raw=raw)
    assert _actions() == [("cli", "api_token.create", "api_token"), ("cli", "api_token.revoke", "api_token")]


def test_an_expired_token_is_refused_with_its_expiry_and_an_inactive_user_too():
    user = make_user(Role.VIEWER, "vera")
    with pytest.raises(ValueError, match="future"):
        api_token_create(user=user, expires_at=timezone.now() - timedelta(seconds=1))
    token, raw = api_token_create(user=user, expires_at=timezone.now() + timedelta(days=1))
    assert api_token_authenticate(raw=raw).pk == token.pk
    at = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=at)
    with pytest.raises(TokenRefused, match=f"expired at {at:%Y-%m-%dT%H:%M:%SZ}"):
        api_token_authenticate(raw=raw)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None)
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(TokenRefused, match="inactive user"):
        api_token_authenticate(raw=raw)


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    token, raw = api_token_create(user=make_user(Role.VIEWER, "vera"))
    with django_assert_num_queries(2):  # the lookup, then the first use's UPDATE
        api_token_authenticate(raw=raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with django_assert_num_queries(1):  # used again within the minute: a read, no write
        api_token_authenticate(raw=raw)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    api_token_authenticate(raw=raw)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


def test_manage_py_token_creates_lists_and_revokes_and_never_prints_a_secret_again():
    make_user(Role.VIEWER, "vera")
    out, err = StringIO(), StringIO()
    call_command("token", "create", "vera", "--name", "ci", "--expires-in", "90d", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    stored = ApiToken.objects.get(user__username="vera")
    assert raw.startswith("lops_") and stored.prefix == raw[:12] and "shown only now" in err.getvalue()
    assert timedelta(days=89) < stored.expires_at - timezone.now() <= timedelta(days=90)
    call_command("token", "create", "vera", "--name", "grafana", stdout=StringIO(), stderr=StringIO())

    listing = StringIO()
    call_command("token", "list", stdout=listing)
    lines = listing.getvalue().splitlines()
    assert lines[0].split("\t") == ["id", "prefix", "user", "name", "state", "created", "last used", "expires"]
    assert [line.split("\t")[3:5] for line in lines[1:]] == [["grafana", "active"], ["ci", "active"]]
    assert raw not in listing.getvalue() and stored.token_hash not in listing.getvalue()

    done = StringIO()
    call_command("token", "revoke", f"{stored.prefix}…", stdout=done)
    assert f"token {stored.prefix}… (id {stored.pk}, vera) revoked" in done.getvalue()
    call_command("token", "revoke", str(stored.pk), stdout=done)
    assert "was already revoked" in done.getvalue()
    listing = StringIO()
    call_command("token", "list", "--user", "vera", stdout=listing)
    assert "\tci\trevoked\t" in listing.getvalue()
    assert [a for _, a, _ in _actions()] == ["api_token.create", "api_token.create", "api_token.revoke"]


def test_manage_py_token_create_prints_and_audits_an_offset_expiry_in_utc():
    make_user(Role.VIEWER, "vera")
    day = (timezone.now() + timedelta(days=30)).date()
    local = datetime(day.year, day.month, day.day, tzinfo=tz(timedelta(hours=2)))  # midnight at +02:00
    in_utc = local.astimezone(UTC)  # 22:00 the day before
    err = StringIO()
    call_command("token", "create", "vera", "--expires", local.isoformat(), stdout=StringIO(), stderr=err)
    assert f"expires {in_utc:%Y-%m-%d} 22:00 UTC;" in err.getvalue()
    entry = AuditEntry.objects.get(action="api_token.create")
    assert entry.parameters["expires_at"] == f"{in_utc:%Y-%m-%d}T22:00:00Z"
    assert ApiToken.objects.get().expires_at == in_utc


@pytest.mark.parametrize("args,message", [
    (["create", "nobody"], "no user 'nobody'"),
    (["create", "vera", "--expires-in", "soon"], "--expires-in: expected a number of hours or days"),
    (["create", "vera", "--expires", "2001-01-01T00:00:00Z"], "--expires: that time has passed"),
    (["create", "vera", "--expires", "tomorrow"], "--expires: expected an ISO 8601 time"),
    (["create", "vera", "--expires", "2999-01-01T00:00:00Z", "--expires-in", "1d"], "not both"),
    (["revoke", "lops_missing"], "no token 'lops_missing'"),
])
def test_manage_py_token_explains_bad_arguments(args, message):
    make_user(Role.VIEWER, "vera")
    with pytest.raises(CommandError, match=message):
        call_command("token", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


@pytest.fixture
def admin_client(client):
    admin = user_create(username="root-admin", password="correct-horse-42", role=Role.OPERATOR, admin=True)
    client.force_login(admin)
    return client


def test_the_admin_lists_tokens_by_hash_revokes_and_edits_through_the_audited_services(admin_client):
    token, raw = api_token_create(user=make_user(Role.VIEWER, "vera"), name="grafana")
    listing = admin_client.get("/admin/ops/apitoken/").content.decode()
    assert token.prefix in listing and "grafana" in listing and raw not in listing
    page = admin_client.get(f"/admin/ops/apitoken/{token.pk}/change/").content.decode()
    assert token.token_hash in page and raw not in page
    assert admin_client.get("/admin/ops/apitoken/add/").status_code == 403  # manage.py token create prints it once

    later = (timezone.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    form = {"name": "grafana-prod", "expires_at_0": later.strftime("%Y-%m-%d"), "expires_at_1": later.strftime("%H:%M:%S")}
    assert admin_client.post(f"/admin/ops/apitoken/{token.pk}/change/", form).status_code == 302
    token.refresh_from_db()
    assert (token.name, token.expires_at) == ("grafana-prod", later)

    resp = admin_client.post("/admin/ops/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert resp.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    admin_client.post(f"/admin/ops/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.exists()
    assert _actions() == [
        ("cli", "api_token.create", "api_token"),
        ("root-admin", "api_token.update", "api_token"),
        ("root-admin", "api_token.revoke", "api_token"),
        ("root-admin", "api_token.delete", "api_token"),
    ]
    assert all(raw not in str(e.parameters) for e in AuditEntry.objects.all())


def test_view_only_staff_read_tokens_but_cannot_revoke_rename_or_delete_them(client):
    token, _ = api_token_create(user=make_user(Role.VIEWER, "vera"), name="grafana")
    staff = make_user(Role.VIEWER, "auditor")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    staff.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client.force_login(staff)

    listing = client.get("/admin/ops/apitoken/")
    assert listing.status_code == 200 and token.prefix in listing.content.decode()
    action_form = listing.context["action_form"]  # None when no action is offered
    assert ([name for name, _ in action_form.fields["action"].choices] if action_form else []) == []
    client.post("/admin/ops/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    form = {"name": "renamed", "expires_at_0": "", "expires_at_1": ""}
    assert client.post(f"/admin/ops/apitoken/{token.pk}/change/", form).status_code == 403
    assert client.post(f"/admin/ops/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post("/admin/ops/apitoken/", {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"})

    token.refresh_from_db()
    assert (token.name, token.revoked_at) == ("grafana", None)
    assert _actions() == [("cli", "api_token.create", "api_token")]
