"""Under the Content-Security-Policy, in a real browser: the function page draws every chart
with the basic Plotly bundle, with no console error and no CSP violation."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

# Recorded before any page script runs, so a violation during load is caught too.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(" "));
});
"""


@pytest.fixture
def watched(logged_in):
    page = logged_in
    messages: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning", "trace") and messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(RECORD_VIOLATIONS)
    return page, messages


@pytest.mark.parametrize("range_key", ["6h", "24h"])
def test_function_page_draws_every_chart_under_the_csp(watched, live_server, e2e_estate, range_key, artifacts):
    page, messages = watched
    resp = page.goto(f"{live_server.url}/functions/{e2e_estate.bad.pk}/?range={range_key}")
    policy = resp.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    charts = page.locator(".chart[data-chart]")
    n = charts.count()
    assert n >= 8
    for i in range(n):
        expect(charts.nth(i)).to_have_attribute("data-drawn", "", timeout=15000)
        expect(charts.nth(i).locator("svg.main-svg").first).to_be_attached()
    # every trace type the product draws: lines, bars, a second value axis, shapes and annotations
    expect(page.locator("#chart-invocations g.trace.scatter")).to_have_count(3)
    expect(page.locator("#chart-cold-starts g.trace.bars")).to_have_count(1)
    expect(page.locator("#chart-cold-starts g.y2tick").first).to_be_attached()
    expect(page.locator("#chart-cost g.trace.bars")).to_have_count(1)
    expect(page.locator("#chart-invocations g.shapelayer path").first).to_be_attached()
    expect(page.locator("#chart-duration g.annotation", has_text="timeout 6 s, off scale")).to_have_count(1)
    # Plotly's own rules come from plotly.css, not an inline <style>: hovering shows the
    # unified hover label (it needs those pointer-events rules)
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0
    box = page.locator("#chart-invocations .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    expect(page.locator("#chart-invocations g.hoverlayer g.legend")).to_have_count(1, timeout=5000)
    page.screenshot(path=str(artifacts / f"csp-function-{range_key}.png"), full_page=True)
    assert page.evaluate("() => window.__csp") == []
    assert messages == []


def test_live_refresh_zoom_and_the_overview_poll_stay_within_the_policy(watched, live_server, e2e_estate):
    page, messages = watched
    page.goto(f"{live_server.url}/functions/{e2e_estate.bad.pk}/?range=6h")
    expect(page.locator("#chart-invocations svg.main-svg").first).to_be_attached(timeout=15000)
    # live refresh swaps the body and draws again from the new payload
    page.evaluate("""() => new Promise(done => {
        document.addEventListener("charts:reloaded", done, {once: true});
        window.lambdaOpsCharts.reload();
    })""")
    expect(page.locator("#chart-invocations svg.main-svg").first).to_be_attached(timeout=15000)
    # a deploy label is followed by charts.js (no <a> inside the chart)
    page.locator("#chart-invocations g.annotation", has_text="live → v43").first.click()
    page.wait_for_url(re.compile(r"range=custom&start=.*&end="))
    expect(page.locator("#chart-invocations svg.main-svg").first).to_be_attached(timeout=15000)
    page.goto(f"{live_server.url}/?range=6h")
    # an htmx swap of the fleet table, as its 60 s poll does (htmx runs with allowEval off)
    page.evaluate("""() => new Promise(done => {
        document.body.addEventListener("htmx:afterSettle", done, {once: true});
        htmx.ajax("GET", window.location.href, {target: "#fleet", select: "#fleet", swap: "outerHTML"});
    })""")
    expect(page.locator("#fleet table.fleet tbody tr").first).to_be_visible()
    assert page.evaluate("() => window.__csp") == []
    assert messages == []


def test_the_admin_works_within_the_policy(watched, live_server, e2e_estate):
    page, messages = watched
    alice = User.objects.get(username="alice")
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])
    for path in ("/admin/", "/admin/ops/account/", f"/admin/ops/account/{e2e_estate.account.pk}/change/"):
        resp = page.goto(f"{live_server.url}{path}")
        assert resp.status == 200, path
        assert "default-src 'self'" in resp.headers["content-security-policy"]
    expect(page.locator("#content h1")).to_contain_text("Change account")
    assert page.evaluate("() => window.__csp") == []
    assert messages == []
