"""The rollback journey in a real browser against the sandbox: function page → "roll back live →
v1…" → the confirm page with both versions side by side → confirm → the job page, succeeded,
with its "did it help" panel; the alias in the sandbox is back on v1."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from ops.aws.client import Scope, client
from ops.models import Alias
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from ops.pollers.metrics import poll as metrics
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID
from tests.e2e.conftest import PASSWORD
from tests.factories import make_user

pytestmark = pytest.mark.e2e
REGION = "us-east-1"
FN = "orders-api"


@pytest.fixture
def regression(aws, sandbox_server, settings, monkeypatch, transactional_db):
    """orders-api after a bad deploy (live v1 + v2 → v3), polled; jobs run inline when asked for."""
    from ops.actions import runner
    from ops.tasks import actions

    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    settings.METRICS_INITIAL_BACKFILL_MINUTES = 60
    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: runner.job_run(job_id=job_id))
    sandbox.seed_estate(sandbox_server, small=True)
    sandbox.cloudtrail_delay(sandbox_server, 0)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=now - timedelta(minutes=30), minutes=28, scenario="steady", seed=9)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    sandbox.set_scenario(sandbox_server, "deploy-regression", function=FN, account=PROD_ACCOUNT_ID, region=REGION)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=start, minutes=3, seed=9)
    monkeypatch.setattr(metrics, "now", lambda: start + timedelta(minutes=3, seconds=20))
    for source, work in (("inventory", inventory_poll), ("metrics", metrics.metrics_poll), ("changes", changes_poll)):
        assert poll_run(source=source, account=account, region=REGION, work=work).ok
    make_user("operator", username="alice")
    # simulated time: the job records the rollback at the end of the bad build's traffic
    from types import SimpleNamespace

    from ops.actions import rollback

    monkeypatch.setattr(rollback, "timezone", SimpleNamespace(now=lambda: start + timedelta(minutes=3, seconds=10)))
    return Alias.objects.get(function__name=FN, function__account=account, name="live"), account, start


def test_rollback_journey_in_the_browser(page, live_server, regression, artifacts, sandbox_server, monkeypatch):
    alias, account, start = regression
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")

    page.goto(f"{live_server.url}/functions/{alias.function_id}/?range=1h")
    expect(page.locator("#timeline")).to_contain_text("live v1 + v2 (10 %) → v3")
    page.click("#function-actions a[data-alias=live]")
    page.wait_for_url(re.compile(rf"/functions/{alias.function_id}/aliases/{alias.pk}/rollback$"))
    expect(page.locator("#confirm-what")).to_contain_text("will send all traffic to v1")
    expect(page.locator("#confirm-sides tr[data-version='3']")).to_contain_text("current")
    expect(page.locator("#confirm-sides tr[data-version='1']")).to_contain_text("target")
    expect(page.locator("#confirm-sides tr[data-version='3']")).to_contain_text("%")
    page.screenshot(path=str(artifacts / "rollback-confirm.png"), full_page=True)

    page.click("#confirm-button")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#job-log")).to_contain_text("verified: live → v1")
    expect(page.locator("#action-effect")).to_contain_text("Did it help?")

    # five minutes of traffic after the rollback, polled: the panel says the error rate fell
    sandbox.generate(sandbox_server, start=start + timedelta(minutes=3), minutes=5, seed=9)
    monkeypatch.setattr(metrics, "now", lambda: start + timedelta(minutes=8, seconds=20))
    assert poll_run(source="metrics", account=account, region=REGION, work=metrics.metrics_poll).ok
    page.reload()
    expect(page.locator("#action-effect")).to_have_attribute("data-verdict", "helped")
    expect(page.locator("#action-effect")).to_contain_text("it helped")
    page.screenshot(path=str(artifacts / "rollback-job.png"), full_page=True)

    live = client("lambda", Scope(PROD_ACCOUNT_ID, REGION)).get_alias(FunctionName=FN, Name="live")
    assert live["FunctionVersion"] == "1"
