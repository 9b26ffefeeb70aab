"""ops.pollers.health: one row and the clock in, ok / degraded / failing out, with why and since when."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import PollState
from dashboard.templatetags.ops_format import duration_s
from ops.pollers.health import ago, poll_health, source_cadence_s, worst
from tests.factories import PollStatusFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


def _row(now, **kw):
    defaults = {"source": "metrics", "cadence_s": 60, "last_success_at": now - timedelta(seconds=30),
                "data_until": now - timedelta(seconds=30), "created_at": now - timedelta(days=1)}
    return PollStatusFactory(**{**defaults, **kw})


def test_a_clean_recent_success_is_ok(now):
    h = poll_health(_row(now), now=now)
    assert (h.state, h.reason, h.lag_s, h.problem, h.behind) == (PollState.OK, "", 30, False, False)


def test_no_success_within_n_cadences_is_failing_from_the_moment_the_nth_was_missed(now, settings):
    settings.POLL_FAILING_CYCLES = 3
    last = now - timedelta(seconds=200)
    h = poll_health(_row(now, last_success_at=last, data_until=last), now=now)
    assert h.state == PollState.FAILING and h.since == last + timedelta(seconds=180)
    assert h.reason == "no successful poll for 3 min (expected every 60 s)" and h.behind and h.problem
    # one cadence fewer missed: not failing yet, but the data is 200 s behind (> 2 cadences + 60 s)
    settings.POLL_FAILING_CYCLES = 4
    h = poll_health(_row(now, last_success_at=last, data_until=last), now=now)
    assert h.state == PollState.DEGRADED and h.reason.startswith("data 3 min behind") and h.behind


def test_a_permanent_error_is_failing_at_once_a_transient_one_degraded(now):
    err = now - timedelta(seconds=5)
    denied = poll_health(_row(now, last_error_at=err, last_error_code="AccessDenied", last_error_permanent=True), now=now)
    assert (denied.state, denied.since, denied.last_error_code) == (PollState.FAILING, err, "AccessDenied")
    throttled = poll_health(_row(now, region="eu-west-1", last_error_at=err, last_error_code="Throttling"), now=now)
    assert throttled.state == PollState.DEGRADED and throttled.since == err
    assert throttled.reason == "last run failed (Throttling); the next run retries" and throttled.problem
    assert not throttled.behind  # its data is current: the failed run is the news, not lag


def test_a_scope_that_never_succeeded_is_degraded_then_failing(now):
    fresh = poll_health(_row(now, last_success_at=None, data_until=None, created_at=now - timedelta(seconds=20)), now=now)
    assert (fresh.state, fresh.reason) == (PollState.DEGRADED, "no poll has finished yet")
    old = poll_health(_row(now, region="eu-west-1", last_success_at=None, data_until=None,
                           created_at=now - timedelta(minutes=10), last_error_at=now, last_error_code="ReadTimeoutError"), now=now)
    assert old.state == PollState.FAILING and old.since == now - timedelta(minutes=7)
    assert old.reason == ("no successful poll since the first attempt 10 min ago (expected every 60 s);"
                          " last error ReadTimeoutError")


def test_a_success_with_failed_calls_or_a_shortfall_is_degraded(now):
    h = poll_health(_row(now, last_failed_calls=2, last_calls=9, last_error_at=now - timedelta(seconds=30),
                         last_error_code="Throttling", last_shortfall="2 of 9 AWS calls failed (Throttling)"), now=now)
    assert (h.state, h.reason, h.error_current, h.problem) == (
        PollState.DEGRADED, "2 of 9 AWS calls failed (Throttling)", False, False)
    short = poll_health(_row(now, region="eu-west-1", last_shortfall="time budget used up"), now=now)
    assert (short.state, short.reason) == (PollState.DEGRADED, "time budget used up")


def test_since_is_the_recorded_start_of_the_state_while_it_lasts(now):
    began = now - timedelta(hours=2)
    assert poll_health(_row(now, state=PollState.OK, state_since=began), now=now).since == began
    # recorded ok, but no success for long enough: failing since the missed cycles, not since then
    row = _row(now, region="eu-west-1", state=PollState.OK, state_since=began, last_success_at=now - timedelta(hours=1))
    assert poll_health(row, now=now).since == now - timedelta(hours=1) + timedelta(seconds=180)


def test_cadence_comes_from_the_row_or_the_sources_setting(settings, now):
    settings.CHANGES_POLL_SECONDS = 120
    assert source_cadence_s("changes") == 120 and source_cadence_s("inventory") == settings.INVENTORY_POLL_SECONDS
    assert source_cadence_s("no-such-source") == 300
    row = _row(now, source="changes", cadence_s=None, last_success_at=now - timedelta(seconds=361),
               data_until=now - timedelta(seconds=361))
    assert poll_health(row, now=now).state == PollState.FAILING  # 3 × 120 s


def test_worst_state():
    assert worst([]) == PollState.OK
    assert worst([PollState.OK, PollState.DEGRADED]) == PollState.DEGRADED
    assert worst([PollState.DEGRADED, PollState.FAILING, PollState.OK]) == PollState.FAILING


def test_a_catch_up_a_day_behind_says_the_date(now):
    until = now - timedelta(hours=18)
    h = poll_health(_row(now, source="logs", data_until=until), now=now)
    assert h.state == PollState.DEGRADED and h.behind
    assert h.reason == f"data 18 h 0 min behind (read up to {until:%Y-%m-%d %H:%M} UTC)"


@pytest.mark.parametrize("seconds, said", [(0, "0 s"), (119.9, "119 s"), (120, "2 min"), (7199, "119 min"),
                                           (7200, "2 h 0 min"), (3 * 3600 + 5 * 60 + 59, "3 h 5 min")])
def test_the_reasons_and_the_pages_say_a_duration_the_same_way(seconds, said):
    assert ago(seconds) == duration_s(seconds) == said


def test_an_unknown_duration_is_a_dash_on_the_pages():
    assert duration_s(None) == "—"
