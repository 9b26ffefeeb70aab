"""On-call truth against the sandbox over HTTP: a deploy at its real time with its actor, every
version side by side, configuration that follows AWS, and the fallback without CloudTrail.

The pollers run as beat would run them (inventory, metrics, changes), twice at most per check.
Steady traffic ends a few minutes before the deploy (quiet minutes, so the error episode starts
exactly at the deploy, not at a stray error before it); traffic after the deploy is generated
for the deploy's own minute and the two after it, and the metrics poller's clock is moved to
the end of that traffic so it reads it (everything else runs on real time).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from ops.models import AliasChange, Change, ChangeKind, DeployDating, Function, MinuteStat, PollStatus, SeriesKind
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from ops.pollers.metrics import poll as metrics
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"
FN = "orders-api"


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _run(account, source, work):
    return poll_run(source=source, account=account, region=REGION, work=work)


def _cycle(account, monkeypatch, *, metrics_until: datetime | None = None, expect_changes_ok: bool = True):
    """One beat cycle: inventory, metrics (clock at ``metrics_until``), changes."""
    assert _run(account, "inventory", inventory_poll).ok
    if metrics_until is not None:
        monkeypatch.setattr(metrics, "now", lambda: metrics_until)
    assert _run(account, "metrics", metrics.metrics_poll).ok
    outcome = _run(account, "changes", changes_poll)
    assert outcome.ok is expect_changes_ok, outcome
    return outcome


@pytest.fixture
def prod(aws, sandbox_server, settings):
    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    settings.METRICS_INITIAL_BACKFILL_MINUTES = 90
    sandbox.seed_estate(sandbox_server, small=True)
    sandbox.cloudtrail_delay(sandbox_server, 0)
    now = _minute(datetime.now(timezone.utc))
    sandbox.generate(sandbox_server, start=now - timedelta(minutes=40), minutes=38, scenario="steady", seed=5)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    return account, now


def _deploy(server, scenario: str = "deploy-regression", function: str = FN) -> tuple[dict, float, datetime]:
    """Switch the scenario; generate its minute and the next two. Returns the scenario, when it
    switched (epoch, the middle of the call) and its minute. Every check is against that recorded
    time (within a minute) or that minute, so the switch may fall anywhere in a minute, even on
    its boundary: the minute computed from the midpoint is generated with the new version either
    way, and both CloudTrail's time and the first invocation stay within 60 s of it."""
    before = time.time()
    sc = sandbox.set_scenario(server, scenario, function=function, account=PROD_ACCOUNT_ID, region=REGION)
    switched = (before + time.time()) / 2
    start = _minute(datetime.fromtimestamp(switched, timezone.utc))
    sandbox.generate(server, start=start, minutes=3, seed=5)
    return sc, switched, start


def test_deploy_is_dated_by_cloudtrail_with_its_actor_and_named_on_the_page(prod, sandbox_server, monkeypatch, client_in):
    account, _ = prod
    _cycle(account, monkeypatch)
    sc, switched, start = _deploy(sandbox_server)
    new, old = sc["version"], sc["previous_version"]
    _cycle(account, monkeypatch, metrics_until=start + timedelta(minutes=3, seconds=20))
    _cycle(account, monkeypatch, metrics_until=start + timedelta(minutes=3, seconds=30))

    fn = Function.objects.get(name=FN, account=account, region=REGION)
    moves = list(AliasChange.objects.filter(function=fn, to_version=new))
    assert len(moves) == 1, moves  # CloudTrail's event and the inventory's sighting are one row
    move = moves[0]
    assert abs(move.at.timestamp() - switched) <= 60
    assert move.dated_by == DeployDating.CLOUDTRAIL and move.event_id
    assert (move.actor_name, move.tool) == ("role/CodeDeployServiceRole", "CodeDeploy")
    assert (move.from_version, move.from_weights) == (old, {"2": 0.1})
    assert move.observed_at is not None and move.observed_at >= move.at  # the inventory saw it too
    alias_change = Change.objects.get(kind=ChangeKind.ALIAS, alias_change=move)
    assert alias_change.summary == f"live → v{new}" and alias_change.function_id == fn.pk
    published = Change.objects.get(function=fn, event_name="PublishVersion", after__version=new)
    assert (published.actor, published.tool) == ("role/deploy-bot", "aws-cli")

    # the new version and the one it replaced, side by side
    for version in (new, old):
        assert MinuteStat.objects.filter(series__function=fn, series__kind=SeriesKind.VERSION,
                                         series__qualifier=version, invocations__gt=0).exists(), version
    body = client_in.get(reverse("api-function", args=[fn.pk]) + "?range=1h").json()
    deploy = body["what_changed"]["deploy"]
    assert deploy["to_version"] == new and deploy["alias"] == "live" and deploy["from_version"] == old
    assert (deploy["by"], deploy["tool"], deploy["dated_by"]) == ("role/CodeDeployServiceRole", "CodeDeploy", "cloudtrail")
    assert [v["version"] for v in body["what_changed"]["compared"]] == [new, old]
    assert abs(datetime.fromisoformat(deploy["at"].replace("Z", "+00:00")).timestamp() - switched) <= 60
    versions = {v["version"]: v for v in body["versions"]}
    # the range ends now, so it holds a minute or two of the new version: its rate is noisy, but far above the old one's
    assert versions[new]["error_rate_pct"] > 5 and versions[new]["error_rate_pct"] > 5 * versions[old]["error_rate_pct"]
    page = client_in.get(reverse("function", args=[fn.pk]) + "?range=1h").content.decode()
    assert f"after live → v{new}</strong> by role/CodeDeployServiceRole (CodeDeploy)" in page
    assert f'data-version="{new}"' in page and f'data-version="{old}"' in page
    table = page.split("Per version")[1]
    assert f">v{new}</td>" in table and f">v{old}</td>" in table


def test_without_cloudtrail_the_first_invocations_date_the_deploy(prod, sandbox_server, monkeypatch):
    account, _ = prod
    sandbox.add_fault(sandbox_server, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException")
    _cycle(account, monkeypatch, expect_changes_ok=False)
    sc, switched, start = _deploy(sandbox_server)
    _cycle(account, monkeypatch, metrics_until=start + timedelta(minutes=3, seconds=20), expect_changes_ok=False)

    move = AliasChange.objects.get(function__name=FN, to_version=sc["version"])
    assert move.dated_by == DeployDating.FIRST_INVOCATION
    assert abs(move.at.timestamp() - switched) <= 60
    assert move.observed_at > move.at  # the inventory's own sighting is kept
    status = PollStatus.objects.get(source="changes", account=account, region=REGION)
    assert status.last_error_code == "AccessDeniedException" and status.last_success_at is None
    assert any("first invocations" in w["message"] for w in status.warnings)
    assert not Change.objects.exists()


def test_reserved_concurrency_cut_follows_through_cloudtrail(prod, sandbox_server, monkeypatch, client_in):
    account, _ = prod
    _cycle(account, monkeypatch)
    fn = Function.objects.get(name="payments-worker", account=account)
    assert fn.reserved_concurrency == 20
    sc, _, start = _deploy(sandbox_server, "throttling", "payments-worker")
    assert sc["previous_reserved"] == 20
    # CloudTrail names the cut; the changes poller re-reads the function at once
    assert _run(account, "changes", changes_poll).ok
    fn.refresh_from_db()
    assert fn.reserved_concurrency == 1
    cut = Change.objects.get(function=fn, kind=ChangeKind.CONCURRENCY)
    assert cut.summary == "reserved concurrency 20 → 1" and (cut.actor, cut.tool) == ("role/oncall-admin", "console")
    monkeypatch.setattr(metrics, "now", lambda: start + timedelta(minutes=3, seconds=20))
    assert _run(account, "metrics", metrics.metrics_poll).ok
    body = client_in.get(reverse("api-function", args=[fn.pk]) + "?range=1h").json()
    assert body["function"]["reserved_concurrency"] == 1
    page = client_in.get(reverse("function", args=[fn.pk]) + "?range=1h").content.decode()
    assert "reserved 1 ·" in page and "/ 1</li>" in page  # header, and peak concurrency against the limit


def test_reserved_concurrency_cut_follows_within_one_inventory_cycle_without_cloudtrail(prod, sandbox_server, monkeypatch):
    account, _ = prod
    sandbox.add_fault(sandbox_server, service="cloudtrail", operation="LookupEvents", error="AccessDeniedException")
    _cycle(account, monkeypatch, expect_changes_ok=False)
    sandbox.set_scenario(sandbox_server, "throttling", function="payments-worker", account=PROD_ACCOUNT_ID, region=REGION)
    assert _run(account, "inventory", inventory_poll).ok
    assert Function.objects.get(name="payments-worker", account=account).reserved_concurrency == 1
    sandbox.set_scenario(sandbox_server, "steady")  # the scenario restores 20
    assert _run(account, "inventory", inventory_poll).ok
    assert Function.objects.get(name="payments-worker", account=account).reserved_concurrency == 20


def test_a_late_cloudtrail_event_redates_the_inventory_marker(prod, sandbox_server, monkeypatch):
    account, _ = prod
    _cycle(account, monkeypatch)
    sandbox.cloudtrail_delay(sandbox_server, 3600)  # held past the next cycle, as AWS does minutes later
    sc, switched, start = _deploy(sandbox_server)
    _cycle(account, monkeypatch, metrics_until=start + timedelta(minutes=3, seconds=20))
    move = AliasChange.objects.get(function__name=FN, to_version=sc["version"])
    assert move.dated_by == DeployDating.FIRST_INVOCATION and not move.event_id  # CloudTrail has not told yet
    assert sandbox.cloudtrail_deliver(sandbox_server) >= 1  # the delay is over
    assert _run(account, "changes", changes_poll).ok
    moves = list(AliasChange.objects.filter(function__name=FN, to_version=sc["version"]))
    assert len(moves) == 1 and moves[0].pk == move.pk
    assert moves[0].dated_by == DeployDating.CLOUDTRAIL and moves[0].actor_name == "role/CodeDeployServiceRole"
    assert abs(moves[0].at.timestamp() - switched) <= 60


def test_a_function_that_catches_fire_has_its_aliases_read_at_once(prod, sandbox_server, monkeypatch, client_in):
    """CloudTrail an hour late and no inventory run since the switch: the changes run that finds
    the function newly on fire reads its aliases, so the deploy is named a poll cycle after the
    rise, not at the next inventory run or when CloudTrail delivers."""
    account, _ = prod
    _cycle(account, monkeypatch)
    sandbox.cloudtrail_delay(sandbox_server, 3600)
    sc, switched, start = _deploy(sandbox_server)
    new, old = sc["version"], sc["previous_version"]
    monkeypatch.setattr(metrics, "now", lambda: start + timedelta(minutes=3, seconds=20))
    assert _run(account, "metrics", metrics.metrics_poll).ok
    fn = Function.objects.get(name=FN, account=account, region=REGION)
    assert not AliasChange.objects.filter(function=fn, to_version=new).exists()  # nothing has read the alias yet
    assert _run(account, "changes", changes_poll).ok
    move = AliasChange.objects.get(function=fn, to_version=new)
    assert move.from_version == old and move.dated_by == DeployDating.POLL
    assert abs(move.at.timestamp() - switched) <= 60
    deploy = client_in.get(reverse("api-function", args=[fn.pk]) + "?range=1h").json()["what_changed"]["deploy"]
    assert (deploy["to_version"], deploy["from_version"]) == (new, old)
    assert _run(account, "changes", changes_poll).ok  # read again or not, the move is one row
    assert AliasChange.objects.filter(function=fn, to_version=new).count() == 1


def test_the_metrics_task_runs_the_changes_poller_when_a_function_catches_fire(prod, sandbox_server, monkeypatch):
    from ops.tasks import pollers as tasks

    account, _ = prod
    _cycle(account, monkeypatch)
    sent = []
    monkeypatch.setattr(tasks.poll_changes, "delay", lambda *args: sent.append(args))
    tasks.poll_metrics(account.pk, REGION)
    assert sent == []  # steady traffic: nothing new on fire
    sandbox.cloudtrail_delay(sandbox_server, 3600)
    _, _, start = _deploy(sandbox_server)
    monkeypatch.setattr(metrics, "now", lambda: start + timedelta(minutes=3, seconds=20))
    tasks.poll_metrics(account.pk, REGION)
    assert sent == [(account.pk, REGION)]
