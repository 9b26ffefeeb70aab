"""The numbers Lambda Ops stores equal what the sandbox emitted (its ground-truth ledger).

Inventory, metrics and logs pollers run against the sandbox over HTTP for both accounts (the
second through AssumeRole) and both regions; then, per function, the stored per-minute sums are
compared with the ledger for the same window.
"""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from ops.models import Function, MinuteStat, PollStatus, SeriesKind
from ops.pollers import rollup
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.pollers.logs import logs_poll
from ops.pollers.metrics import metrics_poll
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox

pytestmark = pytest.mark.django_db(transaction=True)
MINUTES = 40


def _poll_everything():
    from ops.models import Account

    for account in Account.objects.all():
        for region in account.regions:
            for source, work in (("inventory", inventory_poll), ("metrics", metrics_poll), ("logs", logs_poll)):
                outcome = poll_run(source=source, account=account, region=region, work=work)
                assert outcome.ok, (source, account.name, region, outcome)


@pytest.fixture
def estate(aws, sandbox_server):
    estate = sandbox.seed_estate(sandbox_server, small=True)
    for acct in estate.accounts:
        account_upsert(
            name=acct["name"],
            account_id=acct["account_id"],
            regions=list(acct["regions"]),
            role_arn=acct.get("role_arn") or "",
            external_id=acct.get("external_id") or "",
        )
    start = (timezone.now() - timedelta(minutes=MINUTES + 5)).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=start, minutes=MINUTES, scenario="steady", seed=7)
    return estate, start


def _stored(fn: Function, start, end) -> dict:
    rows = MinuteStat.objects.filter(series__function=fn, series__kind=SeriesKind.FUNCTION)
    # CloudWatch stamps metrics with the invocation's start; a REPORT line is logged when the
    # invocation ends, and is counted in that minute. Nothing runs before ``start``, so the
    # REPORT-derived sums are compared over everything stored, the metrics over the window.
    metrics = rows.filter(ts__gte=start, ts__lt=end).aggregate(
        invocations=Sum("invocations"), errors=Sum("errors"), throttles=Sum("throttles")
    )
    reports = rows.aggregate(cold_starts=Sum("cold_starts"), reports=Sum("reports"), billed_gb_s=Sum("billed_gb_s"))
    return {k: v or 0 for k, v in {**metrics, **reports}.items()}


def test_stored_numbers_equal_the_sandbox_ledger(estate, sandbox_server):
    spec, start = estate
    end = start + timedelta(minutes=MINUTES)
    _poll_everything()
    assert Function.objects.count() == len(spec.functions)
    compared = 0
    for fn in Function.objects.select_related("account"):
        truth = sandbox.ledger_totals(
            sandbox_server, function=fn.name, account=fn.account.account_id, region=fn.region, start=start, end=end
        )
        stored = _stored(fn, start, end)
        assert stored["invocations"] == truth.get("invocations", 0), fn.name
        assert stored["errors"] == truth.get("errors", 0), fn.name
        assert stored["throttles"] == truth.get("throttles", 0), fn.name
        assert stored["cold_starts"] == truth.get("cold_starts", 0), fn.name
        assert stored["reports"] == truth.get("invocations", 0), fn.name  # one REPORT line per invocation
        assert stored["billed_gb_s"] == pytest.approx(truth.get("billed_gb_s", 0), rel=1e-6, abs=1e-6), fn.name
        compared += truth.get("invocations", 0) > 0
    assert compared >= 3  # the comparison covered functions that really ran


def test_polling_the_same_window_again_changes_nothing(estate, sandbox_server):
    _poll_everything()
    before = list(MinuteStat.objects.order_by("series_id", "ts").values_list("series_id", "ts", "invocations", "errors", "cold_starts", "billed_gb_s"))
    _poll_everything()
    after = list(MinuteStat.objects.order_by("series_id", "ts").values_list("series_id", "ts", "invocations", "errors", "cold_starts", "billed_gb_s"))
    assert before == after and len(before) > 0
    assert PollStatus.objects.filter(last_error_code="").count() == PollStatus.objects.count()


def test_a_catch_up_older_than_the_rollup_window_reaches_the_hourly_table(aws, sandbox_server, settings):
    """Metrics and logs backfilled from 5 hours ago: the hourly roll-ups hold the same totals,
    REPORT-derived columns (cold starts, billed GB-s) included."""
    from ops.models import HourStat

    settings.METRICS_INITIAL_BACKFILL_MINUTES = 400
    settings.LOGS_INITIAL_BACKFILL_MINUTES = 400
    settings.LOGS_MAX_WINDOW_MINUTES = 400
    spec = sandbox.seed_estate(sandbox_server, small=True)
    prod = next(a for a in spec.accounts if not a.get("role_arn"))
    account_upsert(name=prod["name"], account_id=prod["account_id"], regions=list(prod["regions"]))
    now = timezone.now()
    start = (now - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=3)  # whole hours, all older than the trailing roll-up window
    sandbox.generate(sandbox_server, start=start, minutes=180, scenario="steady", seed=3)
    _poll_everything()
    rollup.rollup_recent()  # the beat task's trailing window; everything older the pollers rolled up
    truth = sandbox.ledger_totals(sandbox_server, account=prod["account_id"], start=start, end=end)
    # Nothing was generated after ``end``, but a REPORT line is stamped when its invocation ends:
    # one that began at end − 1 ms lands in the next hour, while the ledger (like the metrics)
    # counts it in the minute it began. So the roll-ups are summed through the hour after.
    hourly = HourStat.objects.filter(
        ts__gte=start, ts__lt=end + timedelta(hours=1), series__kind=SeriesKind.FUNCTION
    ).aggregate(
        invocations=Sum("invocations"), cold_starts=Sum("cold_starts"), billed_gb_s=Sum("billed_gb_s")
    )
    assert truth["invocations"] > 0
    assert hourly["invocations"] == truth["invocations"]
    assert hourly["cold_starts"] == truth["cold_starts"]
    assert hourly["billed_gb_s"] == pytest.approx(truth["billed_gb_s"], rel=1e-6)
