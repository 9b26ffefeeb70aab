"""The pages every visitor can hit: 404 and 500 in the product's look (DEBUG off), the favicon."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.views.defaults import server_error


@pytest.mark.django_db
def test_an_unknown_url_is_a_plain_404_without_the_url_list():
    assert settings.DEBUG is False
    for client in (Client(), _logged_in_client()):
        resp = client.get("/no/such/page/")
        assert resp.status_code == 404
        html = resp.content.decode()
        assert "Not found" in html and "<code>/no/such/page/</code>" in html
        assert "λ Lambda Ops" in html and re.search(r'href="/static/css/app\.[0-9a-f]{12}\.css"', html)
        # Django's debug 404 lists every URL pattern; this page must not.
        assert "URLconf" not in html and "api/v1/" not in html and "admin/" not in html


def _logged_in_client() -> Client:
    from tests.factories import make_user

    client = Client()
    client.force_login(make_user(username="nf-viewer"))
    return client


def test_the_500_page_renders_without_a_request_context(rf):
    resp = server_error(rf.get("/boom"))
    assert resp.status_code == 500
    html = resp.content.decode()
    assert "Something went wrong on our side" in html and "Traceback" not in html
    assert re.search(r'href="/static/favicon\.[0-9a-f]{12}\.svg"', html)


@pytest.mark.django_db
def test_the_favicon_is_linked_and_served_to_anyone():
    client = Client()
    login = client.get("/login/").content.decode()
    href = re.search(r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.svg)" type="image/svg\+xml">', login).group(1)
    icon = client.get(href)
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
    legacy = client.get("/favicon.ico")  # asked for by clients that ignore the link; no login needed
    assert legacy.status_code == 302 and legacy["Location"] == href
