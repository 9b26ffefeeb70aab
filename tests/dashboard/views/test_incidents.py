"""The incident pages and the signed links: login everywhere, the operator role to act, CSRF on
every POST, the confirm page of a link (GET acts on nothing), expired and altered links refused
with a clear page, the function page's banner."""

from __future__ import annotations

import time as _time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ops.alerts.links import incident_link
from ops.models.alerts import Incident, IncidentEvent
from ops.models.choices import IncidentEventKind
from tests.factories import FunctionFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    fn = FunctionFactory(name="checkout-api")
    now = timezone.now()
    inc = Incident.objects.create(
        function=fn, title="checkout-api: error rate > 5 %", severity="critical", began_at=now - timedelta(minutes=25),
        opened_at=now - timedelta(minutes=20),
        diagnosis=[{"key": "deploy", "text": "Deploy 4 min before: live v2 → v3 by role/deploy-bot (CodeDeploy), 12:00 UTC.",
                    "url": f"/functions/{fn.pk}/?range=1h#deploys-h"}],
        diagnosed_at=now,
    )
    IncidentEvent.objects.create(incident=inc, at=now - timedelta(minutes=20), kind=IncidentEventKind.FIRED,
                                 text="error rate > 5 % fired (critical): 24 vs threshold 5", data={"rule_name": "error rate > 5 %"})
    old = Incident.objects.create(function=FunctionFactory(name="old-fn"), title="old-fn: throttles", status="resolved",
                                  began_at=now - timedelta(days=1), opened_at=now - timedelta(days=1),
                                  resolved_at=now - timedelta(hours=23))
    inc.old = old
    return inc


@pytest.fixture
def operator():
    c = Client(enforce_csrf_checks=True)
    c.force_login(make_user("operator", username="olga"))
    return c


def _csrf(client, url) -> str:
    resp = client.get(url)
    return resp.cookies["csrftoken"].value if "csrftoken" in resp.cookies else client.cookies["csrftoken"].value


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_pages_need_a_login(client, incident):
    for url in (reverse("incidents"), reverse("incident", args=[incident.pk]), _path(incident_link(incident=incident, action="ack"))):
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/login/?next=/incidents/")


def test_list_shows_open_first_with_severity_since_and_ack(client_in, incident):
    Incident.objects.filter(pk=incident.pk).update(acknowledged_by_name="olga", acknowledged_at=timezone.now())
    html = client_in.get(reverse("incidents")).content.decode()
    assert html.index("checkout-api: error rate &gt; 5 %") < html.index("old-fn: throttles")
    assert "1 open" in html and "Critical" in html and "olga" in html and "25 min" in html
    resolved = client_in.get(reverse("incidents") + "?status=resolved").content.decode()
    assert "old-fn: throttles" in resolved and "checkout-api" not in resolved
    assert 'href="/incidents/"' in html  # the nav link
    bad = client_in.get(reverse("incidents") + "?status=bogus")
    assert bad.status_code == 400 and "checkout-api" in bad.content.decode()


def test_detail_shows_diagnosis_timeline_and_buttons_for_operators_only(client_in, operator, incident):
    url = reverse("incident", args=[incident.pk])
    html = client_in.get(url).content.decode()
    assert "Deploy 4 min before: live v2 → v3 by role/deploy-bot" in html
    assert f'href="/functions/{incident.function.pk}/?range=1h#deploys-h"' in html
    assert "error rate &gt; 5 % fired (critical)" in html
    assert 'id="ack-button"' not in html and "need the operator role" in html
    assert 'id="ack-button"' in operator.get(url).content.decode()


def test_ack_and_mute_from_the_page_need_the_operator_role_and_csrf(client_in, operator, incident):
    ack = reverse("incident-ack", args=[incident.pk])
    assert client_in.post(ack).status_code == 403
    assert operator.post(ack).status_code == 403  # no CSRF token
    token = _csrf(operator, reverse("incident", args=[incident.pk]))
    resp = operator.post(ack, {"csrfmiddlewaretoken": token})
    assert resp.status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_by_name == "olga"
    assert operator.post(ack, {"csrfmiddlewaretoken": token}).status_code == 302  # twice: acknowledged once
    assert IncidentEvent.objects.filter(incident=incident, kind=IncidentEventKind.ACKNOWLEDGED).count() == 1

    mute = reverse("incident-mute", args=[incident.pk])
    assert operator.post(mute, {"csrfmiddlewaretoken": token, "minutes": "99999"}).status_code == 302
    incident.refresh_from_db()
    assert incident.muted_until is None  # refused with a message, nothing done
    operator.post(mute, {"csrfmiddlewaretoken": token, "minutes": "60"})
    incident.refresh_from_db()
    assert timedelta(minutes=59) < incident.muted_until - timezone.now() <= timedelta(minutes=60)
    html = operator.get(reverse("incident", args=[incident.pk])).content.decode()
    assert "Acknowledged by <strong>olga</strong>" in html and "Muted until" in html
    operator.post(reverse("incident-unmute", args=[incident.pk]), {"csrfmiddlewaretoken": token})
    incident.refresh_from_db()
    assert incident.muted_until is None
    assert list(IncidentEvent.objects.filter(incident=incident).values_list("kind", flat=True)) == [
        "fired", "acknowledged", "muted", "unmuted"]


def test_signed_link_get_confirms_post_acts_and_records_who(operator, client_in, incident, settings):
    url = incident_link(incident=incident, action="ack")
    assert url.startswith(settings.PUBLIC_URL.rstrip("/") + f"/incidents/{incident.pk}/act/")
    path = _path(url)
    resp = operator.get(path)
    assert resp.status_code == 200 and 'id="confirm-button"' in resp.content.decode()
    incident.refresh_from_db()
    assert incident.acknowledged_at is None  # a GET never acts
    assert client_in.post(path).status_code == 403  # a viewer (CSRF not enforced on this client)
    token = operator.cookies["csrftoken"].value
    assert operator.post(path).status_code == 403  # CSRF
    resp = operator.post(path, {"csrfmiddlewaretoken": token})
    assert resp.status_code == 302 and resp["Location"] == reverse("incident", args=[incident.pk])
    incident.refresh_from_db()
    assert incident.acknowledged_by_name == "olga"
    event = IncidentEvent.objects.get(incident=incident, kind=IncidentEventKind.ACKNOWLEDGED)
    assert (event.actor_name, event.text) == ("olga", "acknowledged by olga from the notification's link")

    mute = _path(incident_link(incident=incident, action="mute:60"))
    assert "Mute for 60 min" in operator.get(mute).content.decode()
    operator.post(mute, {"csrfmiddlewaretoken": token})
    incident.refresh_from_db()
    assert incident.muted_by_name == "olga" and incident.muted_until > timezone.now() + timedelta(minutes=59)


def test_expired_and_tampered_links_do_nothing(operator, incident, monkeypatch, settings):
    real = _time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real() - settings.ALERT_LINK_MAX_AGE_SECONDS - 60)
    expired = _path(incident_link(incident=incident, action="ack"))
    monkeypatch.setattr("django.core.signing.time.time", real)
    resp = operator.get(expired)
    assert resp.status_code == 410 and "This link has expired" in resp.content.decode()
    token = operator.cookies["csrftoken"].value
    assert operator.post(expired, {"csrfmiddlewaretoken": token}).status_code == 410

    good = _path(incident_link(incident=incident, action="ack"))
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    for path in (tampered, good.replace(f"/incidents/{incident.pk}/", f"/incidents/{incident.old.pk}/"),
                 f"/incidents/{incident.pk}/act/nonsense/"):
        resp = operator.get(path)
        assert resp.status_code == 403 and "This link is not valid" in resp.content.decode(), path
        assert operator.post(path, {"csrfmiddlewaretoken": token}).status_code == 403
    incident.refresh_from_db()
    assert incident.acknowledged_at is None and not IncidentEvent.objects.exclude(kind="fired").exists()


def test_function_page_banner_links_the_open_incident(client_in, incident):
    html = client_in.get(reverse("function", args=[incident.function.pk])).content.decode()
    assert f'href="/incidents/{incident.pk}/"' in html and 'id="open-incident"' in html
