import pytest
from django.test import Client
from django.urls import reverse

from ops.models import AuditEntry, Role
from tests.factories import AccountFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["overview", "functions", "status"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_healthz_needs_no_login_and_reports_db_and_redis(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True and body["checks"]["redis"]["ok"] is True


def test_login_page_renders_and_logs_in(client):
    make_user(Role.VIEWER, "vera")
    assert "Log in to Lambda Ops" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("login"), {"username": "vera", "password": "correct-horse-42"})
    assert response.status_code == 302
    assert client.get(reverse("functions")).status_code == 200


def test_viewer_cannot_post_an_operator_endpoint(client):
    account = AccountFactory(regions=["us-east-1"])
    client.force_login(make_user(Role.VIEWER))
    response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()


def test_operator_poll_now_is_queued_and_audited(client, django_capture_on_commit_callbacks, monkeypatch):
    from ops import tasks

    queued = []
    monkeypatch.setattr(tasks.poll_inventory, "delay", lambda *args: queued.append(args))
    account = AccountFactory(regions=["us-east-1"])
    operator = make_user(Role.OPERATOR, "olga")
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 302
    assert queued == [(account.pk, "us-east-1")]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id) == (operator, "poll.request", account.account_id)


def test_operator_poll_now_rejects_a_region_the_account_does_not_have(client, monkeypatch):
    from ops import tasks

    monkeypatch.setattr(tasks.poll_inventory, "delay", lambda *a: pytest.fail("must not queue"))
    account = AccountFactory(regions=["us-east-1"])
    client.force_login(make_user(Role.OPERATOR))
    response = client.post(reverse("poll_now"), {"account": account.pk, "region": "mars-1"}, follow=True)
    assert "is not a region of" in response.content.decode()


def test_csrf_is_enforced_on_posts():
    account = AccountFactory(regions=["us-east-1"])
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(make_user(Role.OPERATOR))
    response = csrf_client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_get_is_not_allowed_on_operator_endpoint(client):
    client.force_login(make_user(Role.OPERATOR))
    assert client.get(reverse("poll_now")).status_code == 405
