"""The logs poller's numbers equal the sandbox's ground-truth ledger, through either read path:
REPORT lines (stats by minute in Insights), cold starts, billed GB-s, and one error per failed
invocation (timeouts and out-of-memory kills included) for every runtime and both log formats."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from ops.models import Account, Function, MinuteStat, SeriesKind
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.pollers.logs import logs_poll
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox

pytestmark = pytest.mark.django_db(transaction=True)
MINUTES = 30


@pytest.mark.parametrize("source", ["insights", "filter"])
def test_log_numbers_equal_the_ledger(aws, sandbox_server, settings, source):
    settings.LOGS_SOURCE = source
    spec = sandbox.seed_estate(sandbox_server, small=False)
    prod = next(a for a in spec.accounts if not a.get("role_arn"))
    account_upsert(name=prod["name"], account_id=prod["account_id"], regions=list(prod["regions"]))
    start = (timezone.now() - timedelta(minutes=MINUTES + 5)).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=start, minutes=MINUTES, scenario="timeouts", seed=11)
    account = Account.objects.get()
    for region in account.regions:
        for src, work in (("inventory", inventory_poll), ("logs", logs_poll)):
            outcome = poll_run(source=src, account=account, region=region, work=work)
            assert outcome.ok, (src, region, outcome)
            assert not any("unavailable" in w or "10,000" in w for w in outcome.warnings), outcome
    compared = {"errors": 0, "timeouts": 0}
    runtimes = set()
    for fn in Function.objects.all():
        truth = sandbox.ledger_totals(sandbox_server, function=fn.name, account=prod["account_id"], region=fn.region, start=start)
        stored = MinuteStat.objects.filter(series__function=fn, series__kind=SeriesKind.FUNCTION).aggregate(
            reports=Sum("reports"), cold=Sum("cold_starts"), gbs=Sum("billed_gb_s"), errors=Sum("log_errors")
        )
        assert (stored["reports"] or 0) == truth.get("invocations", 0), fn.name
        assert (stored["cold"] or 0) == truth.get("cold_starts", 0), fn.name
        assert (stored["gbs"] or 0) == pytest.approx(truth.get("billed_gb_s", 0), rel=1e-6, abs=1e-6), fn.name
        assert (stored["errors"] or 0) == truth.get("errors", 0), (fn.name, fn.runtime)
        compared["errors"] += truth.get("errors", 0)
        compared["timeouts"] += truth.get("timeouts", 0)
        if truth.get("errors"):
            runtimes.add(fn.runtime)
    assert compared["errors"] > 10 and compared["timeouts"] > 0
    assert len(runtimes) >= 3  # python, node, java, custom: every one's errors counted
