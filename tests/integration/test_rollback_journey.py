"""The rollback journey against the sandbox over HTTP: a regression deploy, the confirm page with
both versions side by side, the POST, the job moving the alias back, the sandbox's traffic
following it, and the job page saying the error rate fell.

Simulated time: steady traffic up to two minutes ago, the bad build's traffic for the deploy's
minute and the four after it; the rollback is recorded at the end of that traffic (the job's
clock is moved there, as the metrics poller's is), and five minutes of traffic follow it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from ops.actions import rollback
from ops.actions.runner import job_run
from ops.models import Alias, AliasChange, AliasChangeSource, Job, JobStatus
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from ops.pollers.metrics import poll as metrics
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"
FN = "orders-api"


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _cycle(account, monkeypatch, *, until: datetime | None = None):
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    if until is not None:
        monkeypatch.setattr(metrics, "now", lambda: until)
    assert poll_run(source="metrics", account=account, region=REGION, work=metrics.metrics_poll).ok
    assert poll_run(source="changes", account=account, region=REGION, work=changes_poll).ok


@pytest.fixture
def no_enqueue(monkeypatch):
    """The job is run by calling the runner here, not by a worker."""
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: None)


@pytest.fixture
def regression(aws, sandbox_server, settings, monkeypatch, no_enqueue):
    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    settings.METRICS_INITIAL_BACKFILL_MINUTES = 90
    sandbox.seed_estate(sandbox_server, small=True)
    sandbox.cloudtrail_delay(sandbox_server, 0)
    now = _minute(datetime.now(timezone.utc))
    sandbox.generate(sandbox_server, start=now - timedelta(minutes=40), minutes=38, scenario="steady", seed=7)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    _cycle(account, monkeypatch)
    sc = sandbox.set_scenario(sandbox_server, "deploy-regression", function=FN, account=PROD_ACCOUNT_ID, region=REGION)
    start = _minute(datetime.now(timezone.utc))
    sandbox.generate(sandbox_server, start=start, minutes=5, seed=7)
    _cycle(account, monkeypatch, until=start + timedelta(minutes=5, seconds=20))
    return account, sc, start


def test_rollback_journey(regression, sandbox_server, monkeypatch):
    account, sc, start = regression
    new, old = sc["version"], "1"  # live was v1 + v2 (10 %) before the deploy
    alias = Alias.objects.get(function__name=FN, function__account=account, name="live")
    assert alias.version == new
    operator = Client()
    operator.force_login(make_user("operator", username="olga"))
    url = reverse("alias-rollback", args=[alias.function_id, alias.pk])

    # the confirm page: v3 and v1 side by side, before and after the deploy
    html = operator.get(url).content.decode()
    assert f"will send all traffic to <strong>v{old}</strong>" in html
    sides = html.split('id="confirm-sides"')[1].split("</table>")[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<tr data-version="(\d+)">(.*?)</tr>', sides, re.S)}
    assert set(rows) >= {new, old}
    after_rate = lambda row: float(re.findall(r"([\d.]+) %", row)[-1])  # noqa: E731 - the "after" error rate
    assert after_rate(rows[new]) > 20  # the bad build
    before_v1 = float(re.findall(r"([\d.]+) %", rows[old])[0])
    assert before_v1 < 10  # the good one, before the deploy
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    revision = re.search(r'name="revision_id" value="([^"]+)"', html).group(1)

    # the POST (twice: a double click) → one job; the job runs at the end of the bad traffic
    data = {"idempotency_key": key, "revision_id": revision, "to_version": old}
    assert operator.post(url, data).status_code == 302
    assert operator.post(url, data).status_code == 302
    job = Job.objects.get()
    rolled_at = start + timedelta(minutes=5, seconds=10)
    monkeypatch.setattr(rollback, "timezone", SimpleNamespace(now=lambda: rolled_at))
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    move = AliasChange.objects.get(job=job)
    assert move.source == AliasChangeSource.ROLLBACK and move.at == rolled_at

    # the sandbox follows the alias: the next minutes run v1, and errors drop
    after = start + timedelta(minutes=6)
    sandbox.generate(sandbox_server, start=start + timedelta(minutes=5), minutes=6, seed=7)
    rows = sandbox.ledger(sandbox_server, function=FN, start=after, end=after + timedelta(minutes=5), by_version=True,
                          account=PROD_ACCOUNT_ID)
    assert {r["version"] for r in rows if r.get("invocations")} <= {old}
    inv = sum(r.get("invocations", 0) for r in rows)
    err = sum(r.get("errors", 0) for r in rows)
    assert inv > 0 and err / inv < 0.1
    _cycle(account, monkeypatch, until=start + timedelta(minutes=11, seconds=20))
    assert AliasChange.objects.filter(alias=alias, to_version=old, at__gte=start).exclude(
        source=AliasChangeSource.CREATED).count() == 1  # the inventory and CloudTrail merged into it

    # the job page: the error rate fell
    page = operator.get(reverse("job", args=[job.pk])).content.decode()
    panel = page.split('id="action-effect"')[1].split("</section>")[0]
    assert 'data-verdict="helped"' in page.split('id="action-effect"')[0][-200:] + panel[:200]
    before = float(re.search(r'id="effect-before">([\d.]+) %', panel).group(1))
    after_rate_ = float(re.search(r'id="effect-after"[^>]*>([\d.]+) %', panel).group(1))
    assert before > 5 and after_rate_ < before / 2
    assert "it helped" in panel
    # live for 15 minutes after the move: the panel keeps re-reading itself
    assert f'hx-get="{reverse("action-effect", args=[job.pk])}"' in page
