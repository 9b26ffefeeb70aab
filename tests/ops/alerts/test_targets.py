"""Where a channel may point: https, public addresses, a Slack webhook's shape, valid email
addresses — unless the suite's ALERT_WEBHOOK_ALLOW_PRIVATE lets loopback through."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ops.alerts import targets
from ops.alerts.outbox import notifications_deliver, notifications_enqueue
from ops.alerts.targets import email_targets_check, target_hint, webhook_url_check
from ops.models.choices import ChannelKind, NotificationKind, NotificationState
from tests.ops.alerts.notify_data import channel, firing_incident


@pytest.fixture
def strict(settings, monkeypatch):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    # no outside DNS in the test: names resolve from this table
    table = {"hooks.slack.com": ["34.225.1.9"], "alerts.example.com": ["93.184.216.34"],
             "localhost": ["127.0.0.1", "::1"], "intranet.example.com": ["10.20.0.5"],
             "sneaky.example.com": ["93.184.216.34", "192.168.1.10"]}
    monkeypatch.setattr(targets, "resolve_host", lambda host: table.get(host, []))


@pytest.mark.parametrize(("url", "message"), [
    ("http://alerts.example.com/hook", "Only https:// URLs are accepted"),
    ("https://127.0.0.1/hook", "loopback address 127.0.0.1"),
    ("https://localhost:8443/hook", "loopback address"),
    ("https://10.1.2.3/hook", "private address 10.1.2.3"),
    ("https://169.254.169.254/latest/meta-data", "link-local address 169.254.169.254"),
    ("https://[fe80::1]/hook", "link-local address fe80::1"),
    ("https://[::1]/hook", "loopback address ::1"),
    ("https://[::ffff:10.0.0.1]/hook", "private address 10.0.0.1"),
    ("https://240.0.0.1/hook", "reserved address 240.0.0.1"),
    ("https://intranet.example.com/hook", "private address 10.20.0.5"),
    ("https://sneaky.example.com/hook", "private address 192.168.1.10"),
    ("https://nowhere.invalid/hook", "does not resolve"),
    ("https://user:pw@alerts.example.com/hook", "Credentials in the URL"),
    ("ftp://alerts.example.com/x", "Enter a full https:// URL"),
    ("not a url", "Enter a full https:// URL"),
])
def test_webhook_urls_outside_the_public_internet_are_refused(strict, url, message):
    with pytest.raises(ValidationError) as exc:
        webhook_url_check(url, kind=ChannelKind.WEBHOOK)
    assert message in exc.value.messages[0]
    assert "/hook" not in exc.value.messages[0]  # the message never echoes the URL


def test_public_https_urls_and_slack_webhooks_are_accepted(strict):
    assert webhook_url_check(" https://alerts.example.com/hook ", kind=ChannelKind.WEBHOOK) == "https://alerts.example.com/hook"
    slack = "https://hooks.slack.com/services/T000/B000/XXXXsecret"
    assert webhook_url_check(slack, kind=ChannelKind.SLACK) == slack
    with pytest.raises(ValidationError, match="not a Slack incoming webhook"):
        webhook_url_check("https://alerts.example.com/services/T/B/x", kind=ChannelKind.SLACK)


def test_the_suite_setting_lets_loopback_http_through(settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    assert webhook_url_check("http://127.0.0.1:9/hook", kind=ChannelKind.SLACK) == "http://127.0.0.1:9/hook"


def test_email_targets_are_comma_separated_valid_addresses():
    assert email_targets_check(" a@example.com,b@example.org ,") == "a@example.com, b@example.org"
    with pytest.raises(ValidationError, match="Not valid email address"):
        email_targets_check("a@example.com, not-an-address")
    with pytest.raises(ValidationError, match="at least one"):
        email_targets_check(" , ")


def test_hints_never_hold_the_secret_part():
    hint = target_hint(kind=ChannelKind.SLACK, target="https://hooks.slack.com/services/T000/B000/abcdEFGHwxyz")
    assert hint == "https://hooks.slack.com/…wxyz"
    assert target_hint(kind=ChannelKind.EMAIL, target="a@example.com, b@example.com") == "a@example.com and 1 more"


@pytest.mark.django_db
def test_a_name_that_resolves_inside_later_is_refused_at_send_time(strict, monkeypatch):
    """DNS rebinding: the form saw a public address, the sender checks again."""
    now = timezone.now()
    hook = channel(kind=ChannelKind.WEBHOOK, target="https://intranet.example.com/hook")
    incident = firing_incident(channels=[hook], now=now)
    [row] = notifications_enqueue(incident=incident, kind=NotificationKind.FIRING, now=now)
    assert notifications_deliver(now=now).failed == 1
    row.refresh_from_db()
    hook.refresh_from_db()
    assert row.state == NotificationState.FAILED and not hook.enabled
    assert hook.disabled_reason == ("target refused: The host intranet.example.com resolves to a private address "
                                    "10.20.0.5; only public addresses are accepted.")
