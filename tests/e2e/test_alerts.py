"""Alerts in a real browser: an operator creates a rule and sees how often it would have fired
over the last 7 days, drawn on the metric's chart with its threshold; then acknowledges an open
incident from its page.

The preview's data is the known estate's minute rows (tests/estate.py: payments-api failing
80 % of its calls for the last 30 minutes, clean before), written directly to Postgres.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_create_a_rule_and_see_its_7_day_preview(logged_in, live_server, e2e_estate, artifacts):
    page = logged_in
    page.goto(f"{live_server.url}/alerts/rules/new")
    page.fill("#id_name", "payments-api error rate")
    page.select_option("#id_signal", "error_rate")
    page.select_option("#id_scope", "function")
    page.select_option("#id_function", str(e2e_estate.bad.pk))
    page.select_option("#id_comparison", "gt")
    page.fill("#id_threshold", "20")
    page.fill("#id_windows_m", "3")
    page.fill("#id_windows_n", "5")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/alerts/rules/\d+/"))
    expect(page.locator("body")).to_contain_text("payments-api error rate")

    # the preview: the metric's chart over 7 days with the threshold drawn on it
    chart = page.locator(".js-plotly-plot, [data-chart]").first
    expect(chart.locator("svg.main-svg").first).to_be_visible(timeout=15000)
    traces = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(
               el => (el.data || []).map(t => ({name: String(t.name || ''), n: (t.y || []).length})))"""
    )
    names = [t["name"].lower() for t in traces]
    assert any("threshold" in n for n in names), traces
    assert any(t["n"] > 0 and "threshold" not in t["name"].lower() for t in traces), traces  # the metric line
    titles = page.evaluate(
        """() => { const el = document.querySelector('.js-plotly-plot');
                   return [el.layout.xaxis.title && el.layout.xaxis.title.text, el.layout.yaxis.title && el.layout.yaxis.title.text]; }"""
    )
    assert titles[1] and "%" in titles[1], titles
    # 30 minutes at 80 % against a 20 % threshold, 3 of 5: it would have fired once, and still is
    expect(page.locator("body")).to_contain_text(re.compile(r"would have fired 1 time\b", re.I))
    page.screenshot(path=str(artifacts / "alert-rule-preview.png"), full_page=True)


def test_acknowledge_an_incident_from_its_page(logged_in, live_server, e2e_estate, artifacts):
    from ops.models import Incident, IncidentEvent, IncidentEventKind

    now = timezone.now()
    incident = Incident.objects.create(
        function=e2e_estate.bad, title="payments-api: error rate 80.0 % > 5 %", severity="critical",
        began_at=now - timedelta(minutes=30), opened_at=now - timedelta(minutes=27),
        diagnosis=[{"key": "began", "text": "Began 30 min ago", "url": f"/functions/{e2e_estate.bad.pk}/?range=1h"}],
    )
    IncidentEvent.objects.create(incident=incident, at=incident.opened_at, kind=IncidentEventKind.FIRED,
                                 text="error rate 80.0 % > 5 %")
    page = logged_in
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("body")).to_contain_text("payments-api")
    expect(page.locator("#incident-ack")).to_contain_text("Not acknowledged")
    page.click("#ack-button")
    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/"))
    expect(page.locator("#incident-ack")).to_contain_text("Acknowledged by alice")
    expect(page.locator("tr[data-kind=acknowledged]")).to_contain_text("alice")
    incident.refresh_from_db()
    assert incident.acknowledged_by_name == "alice" and incident.acknowledged_at is not None
    page.screenshot(path=str(artifacts / "incident-acknowledged.png"), full_page=True)
