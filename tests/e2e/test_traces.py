"""Traces in a real browser: a known trace written to the sandbox, read by the traces poller,
followed from the function page to its waterfall (order and durations as emitted) and the map."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from ops.pollers.base import poll_run
from ops.pollers.traces import poll as traces
from tests.ops.pollers.traces.builders import REGION, known_trace, put

pytestmark = pytest.mark.e2e


def test_function_page_to_waterfall_and_service_map(aws, logged_in, live_server, e2e_estate, artifacts):
    fn = e2e_estate.bad
    tid, docs, rows = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=time.time() - 300, n=3)
    put(docs)
    outcome = poll_run(source="traces", account=fn.account, region=REGION, work=traces.traces_poll)
    assert outcome.ok and outcome.items == 1, outcome

    page = logged_in
    page.goto(f"{live_server.url}/functions/{fn.pk}/?range=1h")
    panel = page.locator(".traces-panel")
    expect(panel.locator(f"tr[data-trace='{tid}']")).to_contain_text("fault")
    expect(panel.locator(f"tr[data-trace='{tid}']")).to_contain_text("cold (120 ms)")
    panel.locator(f"a[href='/traces/{tid}']").click()
    page.wait_for_url(re.compile(rf"/traces/{tid}$"))

    wf = page.locator("tr.wf-row")
    expect(wf).to_have_count(len(rows))
    got = wf.evaluate_all(
        "rs => rs.map(r => [r.dataset.name, +r.dataset.depth, +r.dataset.offsetMs, +r.dataset.durationMs])"
    )
    assert [(n, d, round(o, 1), round(w, 1)) for n, d, o, w in got] == [(n, d, round(o, 1), round(w, 1)) for n, d, o, w in rows]
    # the bars are drawn where the numbers say: Invocation starts at 121/500 of the axis, 300/500 wide
    inv = page.locator("tr.wf-row[data-name='Invocation'] svg.wf-bar")
    axis = inv.bounding_box()
    bar = inv.locator("rect").bounding_box()
    assert (bar["x"] - axis["x"]) / axis["width"] == pytest.approx(121 / 500, abs=0.01)
    assert bar["width"] / axis["width"] == pytest.approx(300 / 500, abs=0.01)
    expect(page.locator(".trace-logs")).to_contain_text("UpstreamError: stripe answered 502")
    page.locator("tr.wf-row[data-name='api.stripe.com'] summary").click()
    expect(page.locator("tr.wf-row[data-name='api.stripe.com']")).to_contain_text("HTTP status")
    page.screenshot(path=str(artifacts / "trace-waterfall.png"), full_page=True)

    page.goto(f"{live_server.url}/functions/{fn.pk}/map?range=1h")
    expect(page.locator("g.smap-node")).to_have_count(2)
    expect(page.locator("table.edges tr[data-service='api.stripe.com']")).to_contain_text("100.0 %")
    page.screenshot(path=str(artifacts / "service-map.png"), full_page=True)
