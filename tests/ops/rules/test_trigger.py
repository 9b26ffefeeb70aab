"""The detection trigger's rule on known series (pure: no database)."""

from ops.rules import trigger
from ops.rules.trigger import Rise, breaches, rise_threshold


def _rows(values, column="errors", **other):
    return [{column: v, **other} for v in values]


def _quiet_hour(errors=2, invocations=1000):
    # a plausible quiet hour: errors wobble around 2 a minute, traffic around 1,000
    return [{"errors": errors + (i % 3) - 1, "invocations": invocations + (i % 7) * 10, "throttles": 0,
             "async_events_dropped": 0, "dead_letter_errors": 0, "concurrency_max": 40.0 + i % 5}
            for i in range(60)]


def test_a_spike_in_errors_breaches_and_normal_wobble_does_not():
    base = _quiet_hour()
    normal = [dict(base[0]), dict(base[1]), dict(base[2])]
    assert breaches(recent=normal, baseline=base) == []
    spike = [dict(base[0]), dict(base[1], errors=40), dict(base[2])]
    found = breaches(recent=spike, baseline=base)
    # 40 errors in 1,010 invocations is 4 %: under the rate's threshold (0.2 % + 5 points)
    assert [(b.signal, b.index, b.value) for b in found] == [("errors", 1, 40.0)]
    worse = breaches(recent=[dict(base[1], errors=80)], baseline=base)
    assert [(b.signal, b.value) for b in worse] == [("errors", 80.0), ("error_rate", 80 / 1010)]
    errors = found[0]
    # median 2, MAD 1 → spread max(1.48, √2) = 1.48: threshold max(5, 1.5 × 2, 2 + 4 × 1.48)
    assert errors.baseline == 2 and errors.threshold == max(5, 1.5 * 2, 2 + 4 * 1.4826)


def test_the_floor_keeps_a_quiet_fleet_from_triggering_on_a_couple_of_errors():
    base = _rows([0] * 60)
    assert breaches(recent=_rows([4]), baseline=base, ratio=None) == []
    assert [b.value for b in breaches(recent=_rows([5]), baseline=base, ratio=None)] == [5.0]


def test_noisy_series_need_a_bigger_rise():
    rule = Rise("errors", "errors", min_value=5, factor=2.0, mads=4.0)
    median, threshold = rise_threshold(rule, [100, 120, 80, 110, 90] * 12)
    # median 100, MAD 10 → spread 14.8 (above √100 = 10): 100 + 4 × 14.8 = 159.3, above 2 × median? no: 200
    assert median == 100 and threshold == 200
    median, threshold = rise_threshold(Rise("c", "c", min_value=1, factor=1.1, mads=4.0), [100, 120, 80, 110, 90] * 12)
    assert threshold == 100 + 4 * 1.4826 * 10


def test_the_error_rate_catches_a_busy_function_whose_errors_are_small_next_to_the_fleet():
    # 10,000 invocations a minute at 1 % errors; one function starts failing 80 more a minute
    base = [{"errors": 100 + (i % 5) * 4 - 8, "invocations": 10_000 + (i % 9) * 50} for i in range(60)]
    recent = [{"errors": 140, "invocations": 10_080}]
    found = {b.signal: b for b in breaches(recent=recent, baseline=base)}
    assert "errors" not in found  # 140 < 1.5 × median 100 = 150 (above 100 + 4 × √100 = 140)
    # the hour's ratio ≈ 1 %: threshold max(2 × 1 %, 1 % + 5 points) = 6 %; 1.4 % does not reach it
    assert "error_rate" not in found
    assert {b.signal for b in breaches(recent=[{"errors": 160, "invocations": 10_080}], baseline=base)} == {"errors"}
    recent = [{"errors": 900, "invocations": 10_800}]  # a failing busy function: 8.3 %
    assert set(b.signal for b in breaches(recent=recent, baseline=base)) == {"errors", "error_rate"}


def test_too_little_baseline_judges_nothing_and_unknown_minutes_are_skipped():
    short = _quiet_hour()[: trigger.MIN_BASELINE_MINUTES - 1]
    assert breaches(recent=[{"errors": 500, "invocations": 600}], baseline=short) == []
    unknown = [{"errors": None, "invocations": None}] * 60
    assert breaches(recent=[{"errors": 500, "invocations": 600}], baseline=unknown) == []
    assert breaches(recent=[{}, {"errors": None}], baseline=_quiet_hour()) == []


def test_every_signal_is_declared_once_with_a_stored_column():
    from ops.models import AggregateSignal, RegionStat

    signals = [r.signal for r in trigger.RISES] + [trigger.RATIO.signal]
    assert sorted(signals) == sorted(AggregateSignal.values)
    columns = {f.column for f in RegionStat._meta.concrete_fields}
    assert set(trigger.COLUMNS) <= columns
    throttled = breaches(recent=[{"throttles": 30, "concurrency_max": 400.0}], baseline=_quiet_hour())
    assert {b.signal for b in throttled} == {"throttles", "concurrency"}
