"""The now state against the sandbox over HTTP: a deploy regression tops the default overview's
on-fire list within two poll cycles, above a chronic problem; a denied GetMetricData leaves the
unknown minutes null in the API; the demo estate's steady state is calm.

Simulated minutes run up to the current one and a few beyond; the metrics poller's clock
(``ops.pollers.metrics.poll.now``) follows them, so a poll cycle takes no wall-clock minute.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.models import Account, AliasChange, Function, MinuteStat, SeriesKind
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.pollers.metrics import metrics_poll
from ops.pollers.metrics import poll as metrics_poll_module
from ops.selectors.fleet import fleet_page
from ops.selectors.inventory import FunctionFilters
from ops.selectors.timerange import TimeRange
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID, REGIONS, FunctionSpec

pytestmark = pytest.mark.django_db(transaction=True)
E1 = REGIONS[0]
HISTORY_MINUTES = 200  # more than the now state's 3-hour lookback: a standing problem reads as chronic


def _specs() -> list[FunctionSpec]:
    return [
        FunctionSpec("checkout-api", PROD_ACCOUNT_ID, E1, "python3.12", 1024, 15, "arm64", "api", rate=30,
                     error_rate=0.005, duration_ms=140, versions=8, aliases={"live": {"version": "8"}},
                     traffic_alias="live", team="checkout", service="checkout"),
        # a legacy job that has failed half its calls for longer than anyone remembers
        FunctionSpec("legacy-batch", PROD_ACCOUNT_ID, E1, "java21", 512, 60, "x86_64", "api", rate=20,
                     error_rate=0.5, duration_ms=300, team="platform", service="legacy"),
        FunctionSpec("cart-api", PROD_ACCOUNT_ID, E1, "nodejs20.x", 512, 10, "arm64", "api", rate=12,
                     error_rate=0.004, duration_ms=60, team="checkout", service="cart"),
    ]


def _minute(dt):
    return dt.replace(second=0, microsecond=0)


def _accounts(estate) -> None:
    for acct in estate.accounts:
        if any(f.account == acct["account_id"] for f in estate.functions):
            account_upsert(
                name=acct["name"],
                account_id=acct["account_id"],
                regions=sorted({f.region for f in estate.functions if f.account == acct["account_id"]}),
                role_arn=acct.get("role_arn") or "",
                external_id=acct.get("external_id") or "",
            )


def _cycle(monkeypatch, *, clock=None, inventory=True) -> list:
    """One poll cycle (inventory, then metrics) for every account×region; the outcomes."""
    if clock is not None:
        monkeypatch.setattr(metrics_poll_module, "now", lambda: clock)
    outcomes = []
    for account in Account.objects.all():
        for region in account.regions:
            if inventory:
                outcomes.append(poll_run(source="inventory", account=account, region=region, work=inventory_poll))
            outcomes.append(poll_run(source="metrics", account=account, region=region, work=metrics_poll))
    return outcomes


@pytest.fixture
def world(aws, sandbox_server, settings):
    settings.METRICS_INITIAL_BACKFILL_MINUTES = HISTORY_MINUTES + 5
    estate = sandbox.seed_estate(sandbox_server, specs=_specs())
    _accounts(estate)
    return estate


def test_a_deploy_regression_tops_the_default_overview_within_two_poll_cycles(world, sandbox_server, monkeypatch,
                                                                              client_in):
    history_end = _minute(timezone.now())
    sandbox.generate(sandbox_server, start=history_end - timedelta(minutes=HISTORY_MINUTES),
                     minutes=HISTORY_MINUTES, scenario="steady", seed=3)
    assert all(o.ok for o in _cycle(monkeypatch, clock=history_end + timedelta(seconds=5)))

    # Steady state: only the standing problem is on fire, and it says so.
    steady = fleet_page(time_range=TimeRange.preset("24h", now=history_end), filters=FunctionFilters())
    assert [r.name for r in steady.fire] == ["legacy-batch"]
    chronic = steady.fire[0]
    assert chronic.chronic and chronic.baseline_rate is None  # no "↑ from" where nothing rose
    assert steady.as_of == history_end

    # The switch: live moves to a bad build; its calls fail from the next simulated minute on.
    switched = _minute(timezone.now())
    if switched > history_end:
        sandbox.generate(sandbox_server, start=history_end, minutes=int((switched - history_end).total_seconds() // 60),
                         seed=3)
    scenario = sandbox.set_scenario(sandbox_server, "deploy-regression", function="checkout-api")
    onset = switched
    sandbox.generate(sandbox_server, start=onset, minutes=3, seed=3)
    truth = sandbox.ledger_totals(sandbox_server, function="checkout-api", start=onset, end=onset + timedelta(minutes=3))
    # The bad build fails ~35 % of its calls; at the quiet hours of the sandbox's day that is a few
    # dozen calls, so the share is held to "far above the steady ~1 %", not to its expected value.
    assert truth["errors"] >= 5 and truth["errors"] / truth["invocations"] > 0.1

    for i in (1, 2):  # two poll cycles, a minute apart
        assert all(o.ok for o in _cycle(monkeypatch, clock=onset + timedelta(minutes=1 + i, seconds=5)))
    now = onset + timedelta(minutes=3, seconds=5)
    fp = fleet_page(time_range=TimeRange.preset("24h", now=now), filters=FunctionFilters())
    assert [r.name for r in fp.fire] == ["checkout-api", "legacy-batch"]  # new above chronic
    top, old = fp.fire
    assert not top.chronic and old.chronic
    assert abs((top.since - onset).total_seconds()) <= 60
    assert any(t.startswith("error rate") for _, t in top.reasons)
    assert top.baseline_rate is not None and top.baseline_rate < 2.0  # ↑ from the old build's rate
    assert top.deploy is not None and top.deploy.to_version == scenario["version"]
    assert top.deploy.from_version == "8" and top.minutes_after_deploy <= 1
    assert fp.as_of == onset + timedelta(minutes=3)

    # The page and the API say the same, whatever their range.
    fn = Function.objects.get(name="checkout-api")
    body = client_in.get(reverse("api-function", args=[fn.pk]), {"range": "7d"}).json()
    assert body["now"]["on_fire"] and body["now"]["signal"] == "error_rate" and not body["now"]["chronic"]
    assert body["now"]["since"] == top.since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["now"]["deploy"]["to_version"] == scenario["version"]
    assert body["data_as_of"] == (onset + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = client_in.get(reverse("function", args=[fn.pk]), {"range": "7d"}).content.decode()
    assert 'data-state="on-fire"' in page and "data as of" in page
    overview = client_in.get("/").content.decode()
    assert overview.index('data-function="checkout-api"') < overview.index('data-function="legacy-batch"')
    assert overview.count(">chronic</span>") == 1
    assert AliasChange.objects.filter(function=fn, to_version=scenario["version"]).count() == 1


def test_a_denied_metrics_poll_leaves_its_minutes_null_not_zero(world, sandbox_server, monkeypatch, client_in, settings):
    # a first read of 45 minutes: all of it within the roll-up task's trailing window, so the
    # range totals come from minute rows only
    settings.METRICS_INITIAL_BACKFILL_MINUTES = 45
    end = _minute(timezone.now())
    sandbox.generate(sandbox_server, start=end - timedelta(minutes=40), minutes=40, scenario="steady", seed=5)
    known = end - timedelta(minutes=15)
    assert all(o.ok for o in _cycle(monkeypatch, clock=known + timedelta(seconds=5)))
    fn = Function.objects.get(name="checkout-api")
    fn.refresh_from_db()
    assert fn.metrics_known_until == known

    sandbox.add_fault(sandbox_server, service="cloudwatch", operation="GetMetricData", error="AccessDenied",
                      message="not authorized to perform: cloudwatch:GetMetricData")
    try:
        outcomes = _cycle(monkeypatch, clock=end + timedelta(seconds=5), inventory=False)
        assert not any(o.ok for o in outcomes)  # the poll failed: nothing new is known
    finally:
        sandbox.clear_faults(sandbox_server)
    fn.refresh_from_db()
    assert fn.metrics_known_until == known

    url = reverse("api-function-series", args=[fn.pk])
    points = client_in.get(url, {"metric": "invocations", "range": "1h"}).json()["points"]
    # (the poller may have stored the window's closing minute too: it is re-read, not yet known)
    stored = {
        m.ts: m.invocations
        for m in MinuteStat.objects.filter(
            series__function=fn, series__kind=SeriesKind.FUNCTION, series__qualifier="", ts__lt=known
        )
    }
    after = [v for t, v in points if t >= known.strftime("%Y-%m-%dT%H:%M:%SZ")]
    before = [(t, v) for t, v in points if t < known.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert after and all(v is None for v in after)  # unknown, not 0
    assert sum(v for _, v in before) == sum(stored.values()) > 0 and all(v is not None for _, v in before), (
        before, sorted(stored.items()))
    errors = client_in.get(url, {"metric": "error_rate", "range": "1h"}).json()["points"]
    assert all(v is None for t, v in errors if t >= known.strftime("%Y-%m-%dT%H:%M:%SZ"))
    body = client_in.get(reverse("api-function", args=[fn.pk]), {"range": "1h"}).json()
    assert body["totals"]["incomplete"] is True
    assert body["totals"]["known_until"] == body["data_as_of"] == known.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["totals"]["invocations"] == sum(stored.values())
    page = client_in.get(reverse("function", args=[fn.pk]), {"range": "1h"}).content.decode()
    assert 'data-state="incomplete"' in page

    # the next poll that succeeds fills the gap: then the minutes are numbers again
    assert all(o.ok for o in _cycle(monkeypatch, clock=end + timedelta(seconds=5), inventory=False))
    points = client_in.get(url, {"metric": "invocations", "range": "1h"}).json()["points"]
    assert all(v is not None for t, v in points if t < end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    truth = sandbox.ledger_totals(sandbox_server, function="checkout-api", start=end - timedelta(minutes=40), end=end)
    assert sum(v or 0 for _, v in points) == truth["invocations"]
    assert client_in.get(reverse("api-function", args=[fn.pk]), {"range": "1h"}).json()["totals"]["incomplete"] is False


def test_the_demo_estate_steady_state_has_at_most_two_functions_on_fire(aws, sandbox_server, settings, monkeypatch):
    settings.METRICS_INITIAL_BACKFILL_MINUTES = 35
    estate = sandbox.seed_estate(sandbox_server, small=False)
    assert len(estate.functions) == 30
    _accounts(estate)
    end = _minute(timezone.now())
    sandbox.generate(sandbox_server, start=end - timedelta(minutes=30), minutes=30, scenario="steady", seed=1)
    assert all(o.ok for o in _cycle(monkeypatch, clock=end + timedelta(seconds=5)))
    fp = fleet_page(time_range=TimeRange.preset("24h", now=end), filters=FunctionFilters())
    assert fp.total == 30 and sum(r.invocations for r in fp.rows) > 0
    assert len(fp.fire) <= 2, [(r.name, r.reasons) for r in fp.fire]
