"""The on-call path in a real browser: overview → worst function → charts → range → deploy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def charts_drawn(page, chart_id="chart-invocations"):
    chart = page.locator(f"#{chart_id}")
    # charts are drawn one per task after the page is shown; data-drawn: drawn and listening
    expect(page.locator(f"#{chart_id}[data-drawn]")).to_be_attached(timeout=15000)
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    expect(chart.locator("g.trace path").first).to_be_attached()


def test_overview_to_worst_function_and_its_charts(logged_in, live_server, e2e_estate, artifacts):
    page = logged_in
    page.goto(f"{live_server.url}/?range=6h&sort=name")
    expect(page.locator(".fire-row").first).to_contain_text("payments-api")
    expect(page.locator("table.fleet tbody tr").first).to_have_attribute("data-function", "ingest-stream")

    page.click("th a[data-sort=error_rate]")
    page.wait_for_url(re.compile(r"sort=-error_rate"))
    first = page.locator("table.fleet tbody tr").first
    expect(first).to_have_attribute("data-function", "payments-api")
    # The exact rate is pinned in the selector tests; here the window slides with the clock
    # (a minute can pass between building the data and loading the page), so only its form.
    expect(first.locator("td").nth(2)).to_have_text(re.compile(r"^\s*[1-9]\d*\.\d\d %\s*$"))
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    first.locator("td a").first.click()
    page.wait_for_url(re.compile(rf"/functions/{e2e_estate.bad.pk}/\?range=6h"))
    expect(page.locator(".what-changed")).to_contain_text("min after live → v43")
    charts_drawn(page)
    charts_drawn(page, "chart-duration")
    expect(page.locator("#chart-invocations g.annotation").first).to_contain_text("live → v43")
    page.screenshot(path=str(artifacts / "function.png"), full_page=True)

    # change the range: the URL keeps it and the charts are drawn for it
    page.click("a.range[data-range='24h']")
    page.wait_for_url(re.compile(r"range=24h"))
    charts_drawn(page)
    expect(page.locator(".range-note")).to_contain_text("last 24 h")

    # follow the deploy marker on the chart: a window centred on the deploy
    page.locator("#chart-invocations g.annotation", has_text="live → v43").first.click()
    page.wait_for_url(re.compile(r"range=custom&start=.*&end="))
    charts_drawn(page)
    expect(page.locator(".deploys")).to_contain_text("live v42 → v43")
    page.screenshot(path=str(artifacts / "deploy.png"), full_page=True)


def test_zoom_on_one_chart_zooms_all_and_lands_in_the_url(logged_in, live_server, e2e_estate, artifacts):
    page = logged_in
    page.goto(f"{live_server.url}/functions/{e2e_estate.bad.pk}/?range=6h")
    charts_drawn(page)
    charts_drawn(page, "chart-error-rate")
    start, end = page.evaluate(
        """() => {
            const el = document.getElementById('chart-invocations');
            const r = el.layout.xaxis.range;
            const a = new Date(r[0].replace(' ', 'T') + 'Z').getTime(), b = new Date(r[1].replace(' ', 'T') + 'Z').getTime();
            const fmt = t => new Date(t).toISOString().replace('T', ' ').slice(0, 19);
            const lo = fmt(b - 3600e3), hi = fmt(b - 1800e3);
            Plotly.relayout(el, {'xaxis.range[0]': lo, 'xaxis.range[1]': hi});
            return [lo, hi];
        }"""
    )
    page.wait_for_url(re.compile(r"range=custom&start=.*&end="))
    other = page.evaluate("() => document.getElementById('chart-error-rate').layout.xaxis.range")
    assert other[0].startswith(start[:16]) and other[1].startswith(end[:16])
    expect(page.locator(".range-note")).to_have_attribute("data-range-key", "custom")
    expect(page.locator(".range-picker a.range.active")).to_have_count(0)
    expect(page.locator(".range-picker .custom-range summary")).to_contain_text(start[:16])
    charts_drawn(page)

    # a chart point opens that minute's error lines
    page.evaluate(
        """(ts) => document.getElementById('chart-invocations').emit('plotly_click', {points: [{x: ts}]})""",
        e2e_estate.now.strftime("%Y-%m-%d %H:") + f"{(e2e_estate.now.minute - 10) % 60:02d}:00",
    )
    expect(page.locator("#minute-panel")).to_contain_text("Error lines", timeout=10000)
    page.screenshot(path=str(artifacts / "zoom.png"), full_page=True)


def test_phone_width_keeps_charts_usable(logged_in, live_server, e2e_estate, artifacts):
    page = logged_in
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/functions/{e2e_estate.bad.pk}/?range=1h")
    charts_drawn(page)
    width = page.evaluate("() => document.getElementById('chart-invocations').getBoundingClientRect().width")
    assert 250 < width <= 390
    page.screenshot(path=str(artifacts / "phone.png"), full_page=False)
