"""Response headers: no-store on every dynamic answer, the security headers, static files cacheable."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from ops.services.api_tokens import api_token_create
from tests.factories import make_user


def test_logged_in_pages_and_api_answers_are_never_stored(client_in, estate):
    for url in (reverse("overview"), reverse("status"), reverse("api-fleet"), reverse("api-function", args=[999999])):
        resp = client_in.get(url)
        assert resp.status_code in (200, 404), url
        assert "no-store" in resp["Cache-Control"], url
        assert resp["X-Content-Type-Options"] == "nosniff"
        assert resp["Referrer-Policy"] == "same-origin"
        assert resp["X-Frame-Options"] == "DENY"


def test_bearer_api_answers_and_the_login_page_are_never_stored(db, estate):
    _, raw = api_token_create(user=make_user(), name="grafana")
    resp = Client().get(reverse("api-fleet"), headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 200 and resp.json()["total"] >= 1
    assert resp["Cache-Control"] == "no-store"
    assert "no-store" in Client().get(reverse("login"))["Cache-Control"]
    assert "no-store" in Client().get(reverse("api-fleet"))["Cache-Control"]  # the 401 as well


def _static_url(client_in, name: str) -> str:
    html = client_in.get(reverse("overview")).content.decode()
    return re.search(rf'"(/static/{re.escape(name)}\.[0-9a-f]{{12}}\.(?:css|js|svg))"', html).group(1)


def test_static_files_are_hashed_compressed_and_cached_for_good(client_in, estate):
    css = _static_url(client_in, "css/app")
    plain = client_in.get(css)
    assert plain.status_code == 200 and plain["Content-Type"].startswith("text/css")
    assert plain["Cache-Control"] == "max-age=315360000, public, immutable"
    assert "no-store" not in plain["Cache-Control"]
    assert plain["X-Content-Type-Options"] == "nosniff"
    br = client_in.get(css, headers={"Accept-Encoding": "br, gzip"})
    assert br["Content-Encoding"] == "br" and int(br["Content-Length"]) < int(plain["Content-Length"])
    gz = client_in.get(css, headers={"Accept-Encoding": "gzip"})
    assert gz["Content-Encoding"] == "gzip" and int(gz["Content-Length"]) < int(plain["Content-Length"])
    # The unhashed name still answers, but only for a minute: it changes with every release.
    unhashed = client_in.get("/static/css/app.css")
    assert unhashed.status_code == 200 and unhashed["Cache-Control"] == "max-age=60, public"


def test_hsts_and_the_https_redirect_behind_a_tls_proxy(db, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    plain = client.get(reverse("login"))
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/login/"
    assert "Strict-Transport-Security" not in plain  # only ever sent over HTTPS
    secure = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # Probes inside the network speak plain HTTP; a redirect would hide /healthz's own status.
    assert client.get(reverse("healthz")).status_code in (200, 503)
