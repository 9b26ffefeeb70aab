"""The Content-Security-Policy: on every answer, and pages that need nothing it forbids (no
inline script with code, no inline event handler, no inline style attribute)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from ops.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy_of(resp) -> dict[str, str]:
    header = resp["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


class InlineCode(HTMLParser):
    """Collects what a strict policy would refuse: <script> without src whose type is not
    JSON data, on* attributes, style attributes and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.data_scripts: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "script":
            self._in_script = a
        if tag == "style":
            self.problems.append("<style> element")

    def handle_data(self, data):
        if self._in_script is not None and data.strip():
            if "src" in self._in_script:
                self.problems.append("<script src> with a body")
            elif self._in_script.get("type") == "application/json":
                self.data_scripts.append(self._in_script.get("id", ""))
            else:
                self.problems.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def scan(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def test_the_policy_is_on_pages_the_api_the_login_page_and_errors(client, client_in, estate, viewer):
    answers = {
        "login": client.get(reverse("login")),
        "redirect to login": client.get("/"),
        "healthz": client.get(reverse("healthz")),
        "overview": client_in.get("/?range=6h"),
        "function": client_in.get(reverse("function", args=[estate.bad.pk])),
        "not found": client_in.get(reverse("function", args=[999999])),
    }
    _, raw = api_token_create(user=viewer, name="csp")
    answers["api"] = client.get(reverse("api-fleet"), HTTP_AUTHORIZATION=f"Bearer {raw}")
    answers["api 401"] = client.get(reverse("api-fleet"))
    for name, resp in answers.items():
        assert policy_of(resp) == POLICY, name
    assert answers["api"].status_code == 200 and answers["not found"].status_code == 404


@pytest.mark.parametrize("range_key", ["6h", "24h"])
def test_no_page_carries_inline_code_or_handlers(client, client_in, estate, range_key):
    pages = {
        "login": client.get(reverse("login")),
        "overview": client_in.get(f"/?range={range_key}"),
        "functions": client_in.get(reverse("functions")),
        "function": client_in.get(reverse("function", args=[estate.bad.pk]) + f"?range={range_key}"),
        "charts partial": client_in.get(reverse("function-charts", args=[estate.bad.pk]) + f"?range={range_key}"),
        "status": client_in.get(reverse("status")),
    }
    for name, resp in pages.items():
        assert resp.status_code == 200, name
        found = scan(resp.content.decode())
        assert found.problems == [], (name, found.problems)
    # the function page's chart data is one JSON payload, data not code
    assert scan(pages["function"].content.decode()).data_scripts == ["chart-data"]


def test_htmx_is_told_not_to_eval_or_inject_styles(client_in, estate):
    html = client_in.get("/").content.decode()
    assert (
        '<meta name="htmx-config" content=\'{"allowEval": false, "allowScriptTags": false,'
        ' "includeIndicatorStyles": false}\'>'
    ) in html
    assert "hx-trigger=\"every 60s\" data-refresh-visible" in html  # no eval'd trigger filter
    assert re.search(r'src="/static/js/pages\.[0-9a-f]{12}\.js"', html)  # collected under its hashed name
