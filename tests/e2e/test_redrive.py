"""The redrive journey in a real browser: a filtered selection's confirm page with its preview,
one click, the job page with per-message results; messages really re-invoked in the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ops.actions.runner import job_run
from ops.models import Job, JobKind, QueueRole
from sandbox.testing import async_invocations
from tests.ops.actions.redrive.helpers import drain, make_dlq, put_messages, signature

pytestmark = pytest.mark.e2e


def test_redrive_an_error_group_in_a_window_from_confirm_to_results(logged_in, live_server, aws, artifacts):
    page = logged_in
    now = timezone.now()
    dlq = make_dlq(role=QueueRole.LAMBDA_DLQ, name="checkout-dlq")
    wanted = put_messages(dlq, [{"orderId": i} for i in range(12)], sent_at=now - timedelta(minutes=20))
    put_messages(dlq, [{"late": i} for i in range(5)], error="TimeoutError", sent_at=now - timedelta(minutes=20))
    query = urlencode({"group": signature("KeyError: 'id'"), "since": (now - timedelta(minutes=30)).isoformat(),
                       "until": (now - timedelta(minutes=10)).isoformat()})
    page.goto(f"{live_server.url}/dlqs/{dlq.queue.pk}/redrive?{query}")
    expect(page.locator("#preview-count")).to_have_text("12")
    expect(page.locator("#preview-target")).to_contain_text("re-invoked asynchronously on checkout")
    expect(page.locator("#preview-sample tbody tr")).to_have_count(5)
    page.screenshot(path=str(artifacts / "redrive-confirm.png"), full_page=True)

    page.click("#confirm-button")
    page.wait_for_url(f"{live_server.url}/jobs/**")
    job = Job.objects.get(kind=JobKind.DLQ_REDRIVE)
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "pending")
    job_run(job_id=job.pk)  # the worker's part, in this process
    page.reload()
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#redrive-counts tr[data-state=redriven] td.num")).to_have_text("12")
    expect(page.locator("#redrive-counts tr[data-state=failed] td.num")).to_have_text("0")
    page.screenshot(path=str(artifacts / "redrive-job.png"), full_page=True)

    assert sorted(json.loads(c["payload"])["orderId"] for c in async_invocations(aws, function="checkout")) == list(range(12))
    assert {m["MessageId"] for m in drain(dlq.url)}.isdisjoint(wanted)
