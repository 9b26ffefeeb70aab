"""The channels pages: who may do what, CSRF, targets never shown back, the test button's
result, a disabled channel's reason and re-enabling it."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from ops.models import Channel, Notification
from ops.models.choices import ChannelKind, NotificationKind, NotificationState
from tests.factories import make_user
from tests.ops.alerts.notify_data import channel
from tests.receivers import http_receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SECRET = "XoXoS3cretPathT0ken"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # these tests log users in with force_login; hashing their passwords at full cost adds
    # about a second per test and proves nothing here
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator_client(client):
    client.force_login(make_user("operator", username="olga"))
    return client


def _page(client) -> str:
    resp = client.get(reverse("channels"))
    assert resp.status_code == 200
    return resp.content.decode()


def test_viewers_read_the_list_and_cannot_change_anything(client_in, http_receiver):
    c = channel(kind=ChannelKind.SLACK, target=http_receiver.url(f"/services/T/B/{SECRET}"), name="oncall-slack")
    html = _page(client_in)
    assert "oncall-slack" in html and c.target_hint in html and SECRET not in html
    assert reverse("channel-test", args=[c.pk]) not in html and reverse("channel-add") not in html
    for name in ("channel-test", "channel-delete", "channel-enable"):
        assert client_in.post(reverse(name, args=[c.pk])).status_code == 403
    assert client_in.get(reverse("channel-add")).status_code == 403
    assert client_in.post(reverse("channel-edit", args=[c.pk]), {"name": "x", "kind": "slack"}).status_code == 403
    assert http_receiver.requests == [] and Channel.objects.get().name == "oncall-slack"


def test_an_empty_list_says_why(client_in):
    assert "No channels yet, so alert rules notify no one" in _page(client_in)


def test_posts_need_the_csrf_token(http_receiver):
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(make_user("operator", username="oscar"))
    resp = csrf.post(reverse("channel-add"), {"name": "x", "kind": "webhook", "target": http_receiver.url()})
    assert resp.status_code == 403 and not Channel.objects.exists()


def test_an_operator_adds_edits_and_the_target_is_never_shown_back(operator_client, http_receiver, caplog):
    caplog.set_level(logging.DEBUG)
    target = http_receiver.url(f"/services/T/B/{SECRET}")
    resp = operator_client.post(reverse("channel-add"), {"name": "payments", "kind": "slack", "target": target})
    assert resp.status_code == 302
    c = Channel.objects.get()
    assert c.target == target and c.target_hint == f"http://127.0.0.1:{http_receiver.port}/…0ken"
    edit = operator_client.get(reverse("channel-edit", args=[c.pk])).content.decode()
    assert SECRET not in edit and c.target_hint in edit and "Leave blank to keep it" in edit
    # blank target keeps the stored one
    assert operator_client.post(reverse("channel-edit", args=[c.pk]), {"name": "payments-oncall", "kind": "slack",
                                                                       "target": ""}).status_code == 302
    c.refresh_from_db()
    assert (c.name, c.target) == ("payments-oncall", target)
    # a refused form does not echo the typed target either
    bad = operator_client.post(reverse("channel-add"), {"name": "mail", "kind": "email", "target": f"{SECRET}-not-an-address"})
    assert bad.status_code == 400 and "Not valid email address" in bad.content.decode()
    assert f'value="{SECRET}' not in bad.content.decode()
    assert SECRET not in _page(operator_client) and SECRET not in caplog.text


def test_private_targets_are_refused_by_the_form(operator_client, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    resp = operator_client.post(reverse("channel-add"), {"name": "x", "kind": "webhook", "target": "https://127.0.0.1/h"})
    assert resp.status_code == 400 and "loopback address 127.0.0.1" in resp.content.decode()
    resp = operator_client.post(reverse("channel-add"), {"name": "x", "kind": "webhook", "target": "http://127.0.0.1/h"})
    assert "Only https:// URLs are accepted" in resp.content.decode()
    assert not Channel.objects.exists()


def test_send_test_notification_shows_the_result(operator_client, http_receiver):
    c = channel(kind=ChannelKind.SLACK, target=http_receiver.url(f"/services/T/B/{SECRET}"), name="oncall")
    resp = operator_client.post(reverse("channel-test", args=[c.pk]), follow=True)
    html = resp.content.decode()
    assert "Test notification sent to oncall in " in html and "(answer 200)" in html
    [req] = http_receiver.requests
    assert req.json["text"].startswith(":large_blue_circle: TEST: olga checked that channel oncall reaches you")
    row = Notification.objects.get()
    assert (row.kind, row.state, row.incident) == (NotificationKind.TEST, NotificationState.SENT, None)
    c.refresh_from_db()
    assert c.last_sent_at is not None

    http_receiver.respond(404, b"no_service")
    html = operator_client.post(reverse("channel-test", args=[c.pk]), follow=True).content.decode()
    assert "Test notification to oncall failed in " in html and "HTTP 404: no_service (permanent" in html
    assert SECRET not in html


def test_a_disabled_channel_says_why_and_can_be_re_enabled(operator_client, http_receiver):
    from django.utils import timezone

    from ops.alerts.outbox import channel_disable

    c = channel(kind=ChannelKind.WEBHOOK, target=http_receiver.url(f"/{SECRET}"), name="hook")
    channel_disable(channel=c, reason="HTTP 410: gone", now=timezone.now())
    html = _page(operator_client)
    assert "disabled" in html and "HTTP 410: gone" in html and reverse("channel-enable", args=[c.pk]) in html
    assert operator_client.post(reverse("channel-enable", args=[c.pk])).status_code == 302
    c.refresh_from_db()
    assert c.enabled and c.disabled_reason == "" and c.disabled_at is None


def test_delete(operator_client, http_receiver):
    c = channel(kind=ChannelKind.WEBHOOK, target=http_receiver.url(), name="old")
    assert operator_client.post(reverse("channel-delete", args=[c.pk])).status_code == 302
    assert not Channel.objects.exists()
    assert operator_client.post(reverse("channel-delete", args=[c.pk])).status_code == 404


def test_the_pages_carry_no_inline_code(operator_client, http_receiver):
    from tests.dashboard.test_csp import scan

    c = channel(kind=ChannelKind.WEBHOOK, target=http_receiver.url(), name="hook")
    for url in (reverse("channels"), reverse("channel-add"), reverse("channel-edit", args=[c.pk])):
        assert scan(operator_client.get(url).content.decode()).problems == []


def test_a_new_target_re_enables_a_disabled_channel_and_a_new_kind_needs_one(operator_client, http_receiver):
    from django.utils import timezone

    from ops.alerts.outbox import channel_disable

    c = channel(kind=ChannelKind.WEBHOOK, target=http_receiver.url("/old"), name="hook")
    channel_disable(channel=c, reason="HTTP 404", now=timezone.now())
    resp = operator_client.post(reverse("channel-edit", args=[c.pk]), {"name": "hook", "kind": "email", "target": ""})
    assert resp.status_code == 400 and "Changing the kind needs a new target." in resp.content.decode()
    resp = operator_client.post(reverse("channel-edit", args=[c.pk]),
                                {"name": "hook", "kind": "webhook", "target": http_receiver.url("/new")}, follow=True)
    assert "Channel hook saved and re-enabled (new target)." in resp.content.decode()
    c.refresh_from_db()
    assert c.enabled and c.target.endswith("/new") and c.target_hint == f"http://127.0.0.1:{http_receiver.port}/…"
