"""The traces poller against the sandbox: cold starts marked with their init duration, errors
first, a re-run stores nothing twice, the map's edge counts equal what the sandbox emitted."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from ops.aws import usage
from ops.models import Account, Function, PollStatus, Trace, TraceCall, TraceSegment
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.pollers.traces import poll as traces
from ops.selectors.traces import TraceFilters, service_map, trace_downstream_worst, trace_list
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from tests.ops.pollers.traces.sandbox_truth import emitted

pytestmark = pytest.mark.django_db(transaction=True)
MINUTES = 20
REGION = "us-east-1"


@pytest.fixture
def world(aws, sandbox_server, settings):
    settings.TRACES_PER_CYCLE = 10_000
    settings.TRACES_INITIAL_BACKFILL_MINUTES = MINUTES + 10
    spec = sandbox.seed_estate(sandbox_server, small=True)
    prod = next(a for a in spec.accounts if not a.get("role_arn"))
    account_upsert(name=prod["name"], account_id=prod["account_id"], regions=[REGION])
    start = (timezone.now() - timedelta(minutes=MINUTES + 5)).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=start, minutes=MINUTES, scenario="cold-start-storm", seed=5)
    account = Account.objects.get()
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    truth = emitted(REGION, start - timedelta(minutes=5), timezone.now())
    known = set(Function.objects.filter(region=REGION).values_list("name", flat=True))
    truth = {tid: t for tid, t in truth.items() if t["function"] in known}
    assert truth
    return account, start, truth


def _poll(account):
    return poll_run(source="traces", account=account, region=REGION, work=traces.traces_poll)


def test_every_emitted_trace_is_stored_with_its_cold_start_status_and_calls(world):
    account, _start, truth = world
    outcome = _poll(account)
    assert outcome.ok, outcome
    stored = {t.trace_id: t for t in Trace.objects.select_related("function")}
    assert set(stored) == set(truth)
    cold = [tid for tid, t in truth.items() if t["cold"]]
    assert cold, "the sandbox emitted no cold start in the window"
    for tid, t in truth.items():
        row = stored[tid]
        assert row.function.name == t["function"]
        assert row.cold_start is t["cold"], tid
        if t["cold"]:
            assert row.init_ms == pytest.approx(t["init_ms"], abs=0.01)
        else:
            assert row.init_ms is None
        expected = "fault" if t["fault"] else "error" if t["error"] else "ok"
        assert row.status == expected, tid
        assert row.downstream_calls == sum(t["calls"].values())
        assert row.request_id and row.version
        assert row.segment_count == len(t["docs"])


def test_error_traces_are_listed_first(world):
    account, start, truth = world
    assert _poll(account).ok
    fn_name = Counter(t["function"] for t in truth.values() if t["fault"] or t["error"]).most_common(1)[0][0]
    fn = Function.objects.get(name=fn_name, region=REGION)
    page = trace_list(function=fn, filters=TraceFilters(since=start - timedelta(minutes=5), until=timezone.now()), per_page=500)
    statuses = [t.status for t in page.traces]
    bad = sum(1 for s in statuses if s in ("fault", "error"))
    assert bad > 0 and all(s in ("fault", "error") for s in statuses[:bad])
    assert all(s not in ("fault", "error") for s in statuses[bad:])
    errors_only = trace_list(function=fn, filters=TraceFilters(since=start - timedelta(minutes=5), until=timezone.now(), errors_only=True))
    assert {t.status for t in errors_only.traces} <= {"fault", "error", "throttle"} and len(errors_only.traces) == bad
    cold_only = trace_list(function=fn, filters=TraceFilters(since=start - timedelta(minutes=5), until=timezone.now(), cold_only=True))
    assert all(t.cold_start for t in cold_only.traces)
    assert len(cold_only.traces) == sum(1 for t in truth.values() if t["function"] == fn_name and t["cold"])


def test_a_rerun_stores_nothing_twice_and_fetches_nothing_again(world):
    account, _start, _truth = world
    assert _poll(account).ok
    before = (Trace.objects.count(), TraceSegment.objects.count(), TraceCall.objects.count())
    PollStatus.objects.filter(source="traces").update(cursor={})  # even from scratch: the same window again
    usage.drain()
    assert _poll(account).ok
    calls = {k.operation: n for k, n, _u in usage.drain() if k.service == "xray"}
    assert calls.get("BatchGetTraces", 0) == 0
    assert (Trace.objects.count(), TraceSegment.objects.count(), TraceCall.objects.count()) == before
    dupes = TraceCall.objects.values("trace", "subsegment_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()


def test_service_map_edges_equal_what_the_sandbox_emitted(world):
    account, start, truth = world
    assert _poll(account).ok
    checked = 0
    for fn in Function.objects.filter(region=REGION):
        expected = Counter()
        for t in truth.values():
            if t["function"] == fn.name:
                expected.update(t["calls"])
        smap = service_map(function=fn, since=start - timedelta(minutes=5), until=timezone.now())
        assert {e.service: e.calls for e in smap.edges} == dict(expected), fn.name
        checked += sum(expected.values())
        for e in smap.edges:
            assert e.p50_ms is not None and e.p99_ms >= e.p50_ms
    assert checked > 0
    worst_fn = Function.objects.filter(region=REGION).first()
    worst = trace_downstream_worst(function=worst_fn, since=start - timedelta(minutes=5), until=timezone.now())
    smap = service_map(function=worst_fn, since=start - timedelta(minutes=5), until=timezone.now())
    assert (worst is None) == (not smap.edges)


def test_the_budget_fetches_errors_first(world, settings):
    account, _start, truth = world
    bad = {tid for tid, t in truth.items() if t["fault"] or t["error"]}
    assert bad
    settings.TRACES_PER_CYCLE = len(bad)
    outcome = _poll(account)
    assert outcome.ok
    assert set(Trace.objects.values_list("trace_id", flat=True)) == bad
