"""Login throttling (django-axes): per username and address, audited, never the password."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from ops.models import AuditEntry, AuditResult
from tests.factories import make_user

PASSWORD = "correct-horse-42"  # tests.factories.make_user's
WRONG = "hunter2-wrong-guess"


def _login(username: str, password: str, address: str = "127.0.0.2") -> tuple[Client, object]:
    client = Client(REMOTE_ADDR=address)
    resp = client.post(reverse("login"), {"username": username, "password": password})
    return client, resp


def _logged_in(client: Client) -> bool:
    return client.get(reverse("overview")).status_code == 200


@pytest.mark.django_db
def test_fifteen_wrong_passwords_then_the_right_one_is_refused(settings, caplog):
    make_user(username="alice")
    caplog.set_level(logging.INFO)
    codes = [_login("alice", WRONG)[1].status_code for _ in range(15)]
    limit = settings.AXES_FAILURE_LIMIT
    assert codes[: limit - 1] == [200] * (limit - 1)  # the form again, "wrong username or password"
    assert codes[limit - 1 :] == [429] * (16 - limit)
    client, resp = _login("alice", PASSWORD)
    assert resp.status_code == 429
    assert int(resp["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    page = resp.content.decode()
    assert "Login locked for a while" in page
    assert f"{limit} wrong passwords in a row" in page and "try again at" in page and " UTC" in page
    assert not _logged_in(client)
    # One audit entry when the lock began, naming the user and the address; no password anywhere.
    entries = list(AuditEntry.objects.filter(action="login.locked_out"))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.target_id, entry.result, entry.parameters["ip_address"]) == ("alice", AuditResult.DENIED, "127.0.0.2")
    assert entry.parameters["failures"] == limit
    for text in (entry.message, str(entry.parameters), caplog.text):
        assert WRONG not in text and PASSWORD not in text


@pytest.mark.django_db
def test_another_user_or_another_address_is_not_locked(settings):
    make_user(username="alice")
    make_user(username="bob")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("alice", WRONG, "127.0.0.2")
    assert _login("alice", PASSWORD, "127.0.0.2")[1].status_code == 429
    bob, resp = _login("bob", PASSWORD, "127.0.0.2")
    assert resp.status_code == 302 and _logged_in(bob)
    elsewhere, resp = _login("alice", PASSWORD, "127.0.0.3")
    assert resp.status_code == 302 and _logged_in(elsewhere)


@pytest.mark.django_db
def test_a_good_login_clears_earlier_failures(settings):
    make_user(username="alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("alice", WRONG)
    assert _login("alice", PASSWORD)[1].status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("alice", WRONG)
    assert _login("alice", PASSWORD)[1].status_code == 302


def test_the_client_address_is_the_socket_unless_proxies_are_trusted(rf, settings):
    from dashboard.views.auth import client_ip

    request = rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="127.0.0.66, 127.0.0.5")
    settings.TRUSTED_PROXIES = 0
    assert client_ip(request) == "127.0.0.9"  # a client's own X-Forwarded-For is not believed
    settings.TRUSTED_PROXIES = 1
    assert client_ip(request) == "127.0.0.5"  # what the one trusted proxy appended
    settings.TRUSTED_PROXIES = 3
    assert client_ip(request) == "127.0.0.9"  # fewer hops than promised: the socket's address
