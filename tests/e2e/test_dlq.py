"""The DLQ path in a real browser, under the CSP: DLQ list → queue page (depth chart, groups,
messages) → message page (pretty JSON), with screenshots."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from ops.models import Queue
from tests.e2e.test_csp import RECORD_VIOLATIONS
from tests.factories import DlqMessageFactory, DlqSnapshotFactory

pytestmark = pytest.mark.e2e


def test_dlq_list_to_queue_to_message(logged_in, live_server, e2e_estate, artifacts):
    page = logged_in
    messages: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(RECORD_VIOLATIONS)
    now = e2e_estate.now
    queue = Queue.objects.get(name="payments-dlq")
    Queue.objects.filter(pk=queue.pk).update(depth_visible=4, depth_in_flight=0, depth_delayed=0, depth_at=now,
                                             oldest_sent_at=now - timedelta(minutes=40), peek_at=now, peek_complete=True)
    for i in range(12):
        DlqSnapshotFactory(queue=queue, at=now - timedelta(minutes=60 - 5 * i), visible=i // 3, arrivals=1 if i % 3 == 0 else 0)
    msg = DlqMessageFactory(queue=queue, doc={"detail": {"orderId": 1042}, "customer": "Zoë"}, request_id="6c7e-0001",
                            sent_at=now - timedelta(minutes=40))
    for i in range(2):
        DlqMessageFactory(queue=queue, sent_at=now - timedelta(minutes=10 + i))
    DlqMessageFactory(queue=queue, body=b"not json at all", error_type="TimeoutError",
                      error_message="TimeoutError: upstream did not answer", sent_at=now - timedelta(minutes=3))

    page.goto(f"{live_server.url}/dlqs/")
    row = page.locator("table.dlq-list tbody tr[data-queue='payments-dlq']")
    expect(row).to_contain_text("payments-api")
    expect(row).to_contain_text("40 min")
    page.screenshot(path=str(artifacts / "dlqs.png"), full_page=True)

    row.locator("a", has_text="payments-dlq").click()
    page.wait_for_url(re.compile(rf"/dlqs/{queue.pk}/"))
    expect(page.locator(".dlq-header")).to_contain_text("depth 4 messages")
    expect(page.locator("#chart-dlq-depth[data-drawn]")).to_be_attached(timeout=15000)
    expect(page.locator("#chart-dlq-depth g.trace.scatter").first).to_be_attached()
    expect(page.locator(".dlq-groups")).to_contain_text("KeyError: 'id'")
    expect(page.locator(".dlq-messages tbody tr")).to_have_count(4)
    page.screenshot(path=str(artifacts / "dlq.png"), full_page=True)

    # search by JSON path: one message left
    page.fill("input[name=json_path]", "detail.orderId = 1042")
    page.click(".dlq-search button[type=submit]")
    page.wait_for_url(re.compile(r"json_path=detail.orderId"))
    expect(page.locator(".dlq-messages tbody tr")).to_have_count(1)
    page.locator(".dlq-messages tbody tr a", has_text="message").click()
    page.wait_for_url(re.compile(rf"/dlqs/{queue.pk}/messages/{msg.pk}/"))
    expect(page.locator("pre[data-body=json]")).to_contain_text('"orderId": 1042')
    expect(page.locator("pre[data-body=json]")).to_contain_text("Zoë")
    page.screenshot(path=str(artifacts / "dlq_message.png"), full_page=True)

    assert page.evaluate("() => window.__csp") == []
    assert messages == []
