"""ops.rules.episode: the now state's episode of the signal that fires — its onset, baseline,
chronic mark and whether the value really rose."""

from __future__ import annotations

import random
from datetime import timedelta
from functools import partial

from ops.rules.episode import episode_of, rank_key
from ops.rules.now import now_record
from ops.rules.signals import ERROR_RATE, THROTTLES
from ops.selectors.telemetry import SeriesData
from tests.clock import hours_ago

T0 = hours_ago(3)
RECORD_OF = partial(now_record, timeout_s=6, concurrency_limit=1000, reserved_concurrency=None)


def _data(inv, err, thr=None) -> SeriesData:
    n = len(inv)
    return SeriesData(
        step_s=60,
        ts=[T0 + timedelta(minutes=i) for i in range(n)],
        values={"invocations": inv, "errors": err, "throttles": thr or [0] * n, "async_events_dropped": [0] * n,
                "dead_letter_errors": [0] * n, "reports": [0] * n, "cold_starts": [0] * n,
                "duration_p99": [None] * n, "iterator_age_max": [None] * n, "concurrency_max": [None] * n},
    )


def _episode(signal, data):
    now = RECORD_OF([{c: data.values[c][i] for c in data.values} for i in range(len(data) - 5, len(data))])
    return episode_of(signal, data, now=now, record_of=RECORD_OF)


def test_a_fresh_regression_starts_at_its_first_bad_minute_with_a_risen_baseline():
    err = [0] * 150 + [12] * 30
    ep = _episode(ERROR_RATE, _data([30] * 180, err))
    assert ep.since == T0 + timedelta(minutes=150)
    assert not ep.chronic and not ep.before_lookback
    assert ep.baseline_value == 0.0 and ep.now_value == 40.0 and ep.rose


def test_a_noisy_minute_of_the_old_rate_just_before_does_not_move_the_onset():
    rng = random.Random(4)
    for trial in range(200):
        err = [1 if rng.random() < 0.3 else 0 for _ in range(150)] + [rng.randint(9, 15) for _ in range(30)]
        err[147 + trial % 3] = 2  # 2 of 30 (6.7 %): a bad minute on its own, 1–3 min before
        ep = _episode(ERROR_RATE, _data([30] * 180, err))
        assert ep.since == T0 + timedelta(minutes=150), (trial, err[140:152])


def test_throttles_since_is_the_throttle_episode_not_a_later_error_minute():
    thr = [0] * 100 + [3] * 80
    err = [0] * 170 + [30] * 10  # errors (7.5 %) began later
    data = _data([400] * 180, err, thr)
    ep = _episode(THROTTLES, data)
    assert ep.signal is THROTTLES and ep.since == T0 + timedelta(minutes=100)
    assert _episode(ERROR_RATE, data).since == T0 + timedelta(minutes=170)


def test_a_standing_problem_is_chronic_and_never_reads_as_risen():
    rng = random.Random(9)
    # 9.5 % errors for three hours: every window on fire, the episode older than the lookback
    err = [sum(rng.random() < 0.095 for _ in range(60)) for _ in range(180)]
    ep = _episode(ERROR_RATE, _data([60] * 180, err))
    assert ep.chronic and not ep.rose
    # intermittent: quiet stretches split the runs, but the minutes before were as bad
    err = [6 if (i // 4) % 2 == 0 else 0 for i in range(180)]
    ep = _episode(ERROR_RATE, _data([60] * 180, err))
    assert ep.chronic and not ep.before_lookback and not ep.rose
    assert rank_key(ep) > rank_key(_episode(ERROR_RATE, _data([30] * 180, [0] * 150 + [12] * 30)))


def test_no_minute_data_no_episode():
    ep = _episode(ERROR_RATE, _data([30] * 180, [0] * 180))
    assert ep.since is None and not ep.chronic and not ep.rose


def test_an_episode_whose_first_minutes_happen_to_be_quiet_still_reaches_past_the_lookback():
    err = [0, 0] + [6] * 178  # the two first minutes read had no error by chance
    ep = _episode(ERROR_RATE, _data([12] * 180, err))
    assert ep.before_lookback and ep.chronic and not ep.rose
