"""Layout a person would notice: a failing poller's long error keeps "poll now" on screen; the favicon loads."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PollStatusFactory

pytestmark = pytest.mark.e2e

LONG = (
    "An error occurred (AccessDenied) when calling the ListFunctions operation: User: "
    "arn:aws:sts::123456789012:assumed-role/LambdaOpsReadOnly/lambda-ops-session-with-a-long-name is not "
    "authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows it"
)


@pytest.mark.parametrize("width", [1400, 700])
def test_a_failing_pollers_row_stays_in_its_box_with_poll_now_visible(logged_in, live_server, e2e_estate, artifacts, width):
    now = timezone.now()
    PollStatusFactory(
        account=e2e_estate.account, source="inventory", region="eu-west-1", last_success_at=now - timezone.timedelta(hours=2),
        last_error_at=now, last_error_code="AccessDeniedException", last_error_message=LONG, consecutive_failures=7,
        warnings=[{"message": "arn:aws:lambda:eu-west-1:123456789012:function:" + "x" * 90 + " skipped"}],
    )
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/status/")
    expect(page.locator("#poll-status")).to_contain_text("no successful poll for 2 h 0 min")
    expect(page.locator("#poll-status")).to_contain_text("AccessDeniedException")
    box = page.evaluate("""() => {
        const wrap = document.querySelector('#poll-status').closest('.table-wrap');
        const button = [...document.querySelectorAll('#poll-status button')].find(b => b.textContent === 'poll now');
        const w = wrap.getBoundingClientRect(), b = button.getBoundingClientRect();
        return {page: document.documentElement.scrollWidth, view: innerWidth, wrapRight: w.right, buttonLeft: b.left, buttonRight: b.right};
    }""")
    page.screenshot(path=str(artifacts / f"status-{width}.png"), full_page=True)
    assert box["page"] <= box["view"], box  # the page itself never scrolls sideways
    assert box["buttonRight"] <= box["wrapRight"] + 1 and box["buttonLeft"] >= 0, box  # "poll now" on screen
    expect(page.get_by_role("button", name="poll now").first).to_be_in_viewport()


def test_the_favicon_loads_without_a_404(logged_in, live_server):
    page = logged_in
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(f"{live_server.url}/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "image/svg+xml"
    assert "immutable" in response.headers["cache-control"]
    assert page.request.get(f"{live_server.url}/favicon.ico").status == 200  # follows the redirect
    assert failed == []


def test_the_lockout_page_says_why_and_when_in_the_products_look(page, live_server, e2e_estate, artifacts, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "not-her-password")
        page.click("button[type=submit]")
    lockout = page.locator("#lockout")
    expect(lockout).to_contain_text(f"{settings.AXES_FAILURE_LIMIT} wrong passwords in a row")
    expect(lockout).to_contain_text(re.compile(r"try again at \d\d:\d\d UTC"))
    expect(page.locator(".topbar .brand")).to_have_text("λ Lambda Ops")
    assert page.evaluate("getComputedStyle(document.querySelector('#lockout')).borderTopStyle") == "solid"  # app.css loaded
    page.screenshot(path=str(artifacts / "lockout.png"), full_page=True)
