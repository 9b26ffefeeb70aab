"""How the budget is shared and what a trigger may spend (pure: no database)."""

import pytest

from ops.pollers.metrics import plan
from ops.pollers.metrics.budget import Share


def _share(**kw):
    base = dict(budget_usd=20.0, other_usd_per_day=2.0, metrics_usd_per_day=18.0, scope_usd_per_day=18.0,
                today_usd=1.0, scope_fraction=1.0, day_left_s=43200.0)
    return Share(**{**base, **kw})


def test_a_trigger_is_read_every_minute_while_an_hour_more_fits_in_what_today_left():
    # 200 busy functions × 15 metrics: every minute is 180,000 metrics an hour ($1.80), less
    # their usual reads every 20 min (9,000 an hour)
    kw = dict(queries=3000, usual_queries_per_hour=3000 * 3, base_s=60, busy_s=1200)
    assert plan.plan_triggered(room_usd=1.72, **kw) == 60  # (180,000 − 9,000) × $0.00001 = $1.71
    assert plan.plan_triggered(room_usd=0.80, **kw) == 180  # held back: every 3 minutes fits
    assert plan.plan_triggered(room_usd=0.0, **kw) == 1200  # nothing left: the usual cadence, never slower


def test_the_room_is_todays_budget_left_less_the_steady_plan_for_the_rest_of_the_day():
    share = _share()
    # $19 left today, the steady $4.20/day for the 12 hours left
    assert share.trigger_room_usd(steady_usd_per_day=4.2) == pytest.approx(19 - 2.1)
    half = _share(scope_fraction=0.5)
    assert half.trigger_room_usd(steady_usd_per_day=4.2) == pytest.approx(9.5 - 2.1)
    assert _share(today_usd=20.0).exhausted and not share.exhausted


def test_the_steady_plan_keeps_the_busy_floor_and_says_when_the_budget_stretched_it():
    roomy = plan.plan_cadence(busy_queries=3000, idle_queries=4000, fixed_queries=8, budget_usd=15,
                              base_s=60, busy_s=1200, idle_s=1800)
    assert (roomy.busy_s, roomy.idle_s, roomy.held_back) == (1200, 1800, False)
    assert roomy.usd_per_day == pytest.approx((3000 * 72 + 4000 * 48 + 8 * 1440) * 1e-5)
    tight = plan.plan_cadence(busy_queries=3000, idle_queries=4000, fixed_queries=8, budget_usd=3,
                              base_s=60, busy_s=1200, idle_s=1800)
    assert tight.held_back and tight.busy_s > 1200 and tight.usd_per_day <= 3
