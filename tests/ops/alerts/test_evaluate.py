"""The evaluation tick on real Postgres: scopes, the default pack on a new function, the flips
and the tick row, a failing rule, and two evaluators racing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ops.alerts.evaluate import alerts_evaluate
from ops.alerts.pack import PACK, rule_pack_install
from ops.models import AlertFlip, AlertRule, AlertState, AlertTick, PollStatus, RegionStat
from tests.factories import AccountFactory, FunctionFactory, PollStatusFactory, function_series, minutes

pytestmark = pytest.mark.django_db


def _now():
    return timezone.now().replace(second=0, microsecond=0)


def _fn_with_minutes(*, count=10, errors=0, invocations=100, known=None, **fn):
    known = known or _now()
    f = FunctionFactory(metrics_known_until=known, **fn)
    s = function_series(f)
    minutes(s, start=known - timedelta(minutes=count), count=count, invocations=invocations,
            errors=errors if not callable(errors) else errors)
    return f


def _rule(**kw) -> AlertRule:
    fields = dict(name="errors > 5", signal="errors", comparison="gt", threshold=5, windows_m=3, windows_n=5,
                  missing_data="not_breaching", severity="critical")
    fields.update(kw)
    return AlertRule.objects.create(**fields)


@pytest.fixture
def no_pack():
    AlertRule.objects.all().delete()


def test_pack_is_installed_by_the_migration_and_install_is_idempotent():
    assert set(AlertRule.objects.exclude(builtin="").values_list("builtin", flat=True)) == {p.key for p in PACK}
    rule = AlertRule.objects.get(builtin="error_rate")
    assert (rule.threshold, rule.min_volume, rule.comparison, rule.scope) == (5.0, 5.0, "gte", "all")
    rule.threshold = 12.5
    rule.save(update_fields=["threshold"])
    assert rule_pack_install() == 0
    assert AlertRule.objects.get(builtin="error_rate").threshold == 12.5  # an edit survives
    AlertRule.objects.filter(builtin="throttles").delete()
    assert rule_pack_install() == 1


def test_default_pack_applies_to_a_function_that_just_appeared():
    ok = _fn_with_minutes(errors=0)
    bad = _fn_with_minutes(errors=lambda i: 20 if i >= 6 else 0)  # 20 % for the last 4 minutes
    result = alerts_evaluate()
    assert result.errors == []
    rule = AlertRule.objects.get(builtin="error_rate")
    st = AlertState.objects.get(rule=rule, function=bad)
    assert (st.state, st.breaching, st.value) == ("firing", 4, 20.0)
    assert AlertState.objects.get(rule=rule, function=ok).state == "ok"
    flip = AlertFlip.objects.get(rule=rule, function=bad)
    assert (flip.old_state, flip.new_state, flip.value, flip.threshold, flip.severity, flip.rule_name) == (
        "ok", "firing", 20.0, 5.0, "critical", "Error rate high")
    assert flip.at == bad.metrics_known_until
    tick = AlertTick.objects.get(pk=result.tick_id)
    assert (tick.flips, tick.rules, tick.data_until, tick.error) == (1, len(PACK), bad.metrics_known_until, "")
    # eight per-function rules over two functions (the DLQ rule skips functions without a DLQ)
    assert tick.states == result.states == 2 * 8


def test_state_path_over_ticks_writes_one_flip_per_change(no_pack):
    known = _now() - timedelta(minutes=30)
    f = FunctionFactory(metrics_known_until=known)
    s = function_series(f)
    rule = _rule()
    errs = [0] * 40
    rows = minutes(s, start=known - timedelta(minutes=10), count=40, errors=lambda i: errs[i])

    def tick_at(minute_index, bad):
        for i in bad:
            rows[i].errors = 9
            rows[i].save(update_fields=["errors"])
        f.metrics_known_until = known + timedelta(minutes=minute_index)
        f.save(update_fields=["metrics_known_until"])
        alerts_evaluate()
        return AlertState.objects.get(rule=rule, function=f).state

    assert tick_at(0, []) == "ok"
    assert tick_at(1, [10]) == "pending"
    assert tick_at(2, [11]) == "pending"
    assert tick_at(3, [12]) == "firing"
    assert tick_at(8, []) == "resolved"
    assert tick_at(9, []) == "resolved"
    assert tick_at(10, [19]) == "pending"
    assert list(AlertFlip.objects.filter(rule=rule).values_list("old_state", "new_state")) == [
        ("ok", "pending"), ("pending", "firing"), ("firing", "resolved"), ("resolved", "pending")]


def test_scopes_tag_account_region_function_all(no_pack):
    a1, a2 = AccountFactory(), AccountFactory()
    pay = _fn_with_minutes(errors=9, account=a1, tags={"team": "payments"})
    core = _fn_with_minutes(errors=9, account=a1, region="eu-west-1", tags={"team": "core"})
    other = _fn_with_minutes(errors=9, account=a2, tags={})
    gone = _fn_with_minutes(errors=9, account=a2, gone_at=timezone.now())
    rules = {
        "tag": _rule(scope="tag", tag_key="team", tag_value="payments"),
        "tagkey": _rule(scope="tag", tag_key="team"),
        "account": _rule(scope="account", account=a1),
        "region": _rule(scope="region", account=a1, region="eu-west-1"),
        "function": _rule(scope="function", function=other),
        "all": _rule(scope="all"),
    }
    alerts_evaluate()
    seen = {k: set(AlertState.objects.filter(rule=r, state="firing").values_list("function_id", flat=True))
            for k, r in rules.items()}
    assert seen == {
        "tag": {pay.pk},
        "tagkey": {pay.pk, core.pk},
        "account": {pay.pk, core.pk},
        "region": {core.pk},
        "function": {other.pk},
        "all": {pay.pk, core.pk, other.pk},  # the gone function is not watched
    }
    assert not AlertState.objects.filter(function=gone).exists()


def test_function_leaving_the_scope_while_firing_resolves(no_pack):
    f = _fn_with_minutes(errors=9, tags={"team": "payments"})
    rule = _rule(scope="tag", tag_key="team", tag_value="payments")
    alerts_evaluate()
    f.tags = {"team": "core"}
    f.save(update_fields=["tags"])
    alerts_evaluate()
    assert AlertState.objects.get(rule=rule, function=f).state == "resolved"
    assert AlertFlip.objects.filter(rule=rule).count() == 2
    # back in scope: fires again; then the rule is disabled while firing: it stands down
    f.tags = {"team": "payments"}
    f.save(update_fields=["tags"])
    alerts_evaluate()
    rule.enabled = False
    rule.save(update_fields=["enabled"])
    result = alerts_evaluate()
    assert AlertState.objects.get(rule=rule, function=f).state == "resolved"
    assert result.flips == 1
    assert list(AlertFlip.objects.filter(rule=rule).values_list("new_state", flat=True)) == [
        "firing", "resolved", "firing", "resolved"]


def test_missing_minutes_follow_the_rule(no_pack):
    # Three bad minutes, then two minutes without any row (nothing ran): known-until is after them.
    known = _now()
    f = FunctionFactory(metrics_known_until=known)
    minutes(function_series(f), start=known - timedelta(minutes=5), count=3, errors=9)
    r_bad = _rule(missing_data="breaching", windows_m=5)
    r_good = _rule(missing_data="not_breaching", windows_m=4)
    r_missing = _rule(missing_data="missing", windows_m=3)
    r_ignore = _rule(missing_data="ignore", windows_m=1)
    alerts_evaluate()
    state = {r.pk: AlertState.objects.get(rule=r, function=f).state for r in (r_bad, r_good, r_missing, r_ignore)}
    assert state == {r_bad.pk: "firing", r_good.pk: "pending", r_missing.pk: "firing", r_ignore.pk: "ok"}


def test_region_headroom_and_poller_failing(no_pack):
    acct = AccountFactory(regions=["us-east-1"])
    t = _now()
    RegionStat.objects.bulk_create([RegionStat(account=acct, region="us-east-1", ts=t - timedelta(minutes=i),
                                               claimed_concurrency_max=950) for i in range(1, 6)])
    PollStatusFactory(account=acct, region="us-east-1", source="metrics", last_error_at=timezone.now(),
                      last_success_at=timezone.now() - timedelta(hours=1),
                      last_error_code="AccessDenied", last_error_permanent=True)
    headroom = _rule(signal="region_headroom", comparison="lte", threshold=10)
    poller = _rule(signal="poller_failing", comparison="gte", threshold=1, windows_m=1, windows_n=1)
    alerts_evaluate()
    h = AlertState.objects.get(rule=headroom)
    assert (h.function_id, h.scope_key, h.state, h.value) == (None, f"{acct.account_id}:us-east-1", "firing", 5.0)
    p = AlertState.objects.get(rule=poller)
    assert (p.scope_key, p.state) == (f"metrics:{acct.account_id}:us-east-1", "firing")
    assert AlertFlip.objects.filter(rule=poller, function=None, scope_key=p.scope_key, new_state="firing").count() == 1


def test_a_failing_rule_is_recorded_and_the_others_go_on(no_pack, monkeypatch):
    f = _fn_with_minutes(errors=9)
    broken = _rule(name="broken")
    good = _rule(name="good")
    import ops.alerts.evaluate as ev

    real = ev.rule_judge

    def flaky(rule, data, existing):
        if rule.pk == broken.pk:
            raise ZeroDivisionError("boom")
        return real(rule, data, existing)

    monkeypatch.setattr(ev, "rule_judge", flaky)
    result = alerts_evaluate()
    assert AlertState.objects.get(rule=good, function=f).state == "firing"
    tick = AlertTick.objects.get(pk=result.tick_id)
    assert f"rule {broken.pk} (broken): ZeroDivisionError: boom" in tick.error
    assert tick.flips == 1


# Transactional (two connections see each other's commits). pytest-django runs these after every
# other database test, and their flush drops the pack the migration installed: a later
# transactional test that needs it installs it (ops.alerts.pack.rule_pack_install).
@pytest.mark.django_db(transaction=True)
def test_two_evaluators_in_parallel_write_one_flip():
    AlertRule.objects.all().delete()
    fns = [_fn_with_minutes(errors=9) for _ in range(20)]
    rule = _rule()
    barrier = threading.Barrier(2)
    results, failures = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(alerts_evaluate())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    for round_ in range(2):  # round 0: no state rows yet (insert race); round 1: ok → firing (update race)
        if round_ == 1:
            AlertState.objects.filter(rule=rule).update(state="ok")
            AlertFlip.objects.all().delete()
        threads = [threading.Thread(target=run) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
        assert failures == []
        assert AlertFlip.objects.filter(rule=rule, new_state="firing").count() == len(fns)
        assert sum(r.flips for r in results[-2:]) == len(fns)


def test_dlq_and_cost_signals(no_pack):
    from ops.models import FunctionQueue, QueueStat
    from ops.rules.cost import cost_of
    from tests.factories import QueueFactory

    known = _now()
    f = FunctionFactory(metrics_known_until=known, memory_mb=1024)
    rows = minutes(function_series(f), start=known - timedelta(minutes=10), count=10, invocations=1000,
                   billed_gb_s=50.0, reports=1000)
    q = QueueFactory(account=f.account)
    FunctionQueue.objects.create(function=f, queue=q, role="on_failure")
    # Depth 4 until two minutes ago, then 9: one window of +5.
    QueueStat.objects.bulk_create([QueueStat(queue=q, ts=known - timedelta(minutes=10 - i), visible_max=4 if i < 8 else 9)
                                   for i in range(10)])
    growth = _rule(signal="dlq_growth", comparison="gt", threshold=0, windows_m=1, windows_n=5)
    depth = _rule(signal="dlq_depth", comparison="gte", threshold=9, windows_m=2, windows_n=5)
    cost = _rule(signal="cost", comparison="gt", threshold=0.0001, windows_m=1, windows_n=3)
    alerts_evaluate()
    g = AlertState.objects.get(rule=growth, function=f)
    assert (g.state, g.breaching, g.value) == ("firing", 1, 0.0)  # the newest window did not grow
    d = AlertState.objects.get(rule=depth, function=f)
    assert (d.state, d.breaching, d.value) == ("firing", 2, 9.0)
    # Cost since 00:00 UTC of the function's day, through its newest window.
    day = known.replace(hour=0, minute=0)
    day = day - timedelta(days=1) if day == known else day
    expected = sum(cost_of(region=f.region, architecture=f.architecture, memory_mb=1024, invocations=1000,
                           billed_gb_s=50.0, estimated_ms=0).usd for r in rows if r.ts >= day)
    c = AlertState.objects.get(rule=cost, function=f)
    assert c.state == "firing" and c.value == pytest.approx(expected, rel=1e-9)
