"""dashboard.charts: pure figure builders — units on axes, scales that follow the data, limits in
reach drawn and off scale named, deploy markers, compact points that keep spikes and gaps."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from dashboard import charts
from dashboard.charts import axes, compact
from ops.costs import lambda_cost
from ops.selectors.telemetry import ALL_COLUMNS, SUM_COLUMNS, SeriesData
from ops.selectors.timerange import TimeRange
from tests.clock import hours_ago, iso_s

NOW = hours_ago(1)


def axis_time(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def series(n=60, step=60, **cols) -> SeriesData:
    ts = [NOW - timedelta(seconds=step * (n - i)) for i in range(n)]
    values = {c: [0 if c in SUM_COLUMNS else None] * n for c in ALL_COLUMNS}
    for k, v in cols.items():
        values[k] = list(v)
    return SeriesData(step_s=step, ts=ts, values=values)


def busy(n=60, step=60, **cols) -> SeriesData:
    return series(n, step, **({"invocations": [100] * n, "errors": [1] * n} | cols))


def fn(**kw):
    base = dict(id=7, name="payments-api", timeout_s=6, memory_mb=1024, reserved_concurrency=None, region="us-east-1",
                architecture="arm64", last_invoked_at=None)
    return SimpleNamespace(**(base | kw))


def change(at, *, source="observed", to="43", frm="42"):
    return SimpleNamespace(
        at=at, source=source, to_version=to, from_version=frm, to_weights={}, alias=SimpleNamespace(name="live"),
        actor=None, get_source_display=lambda: source, is_rollback=source == "rollback",
    )


RANGE = TimeRange(key="1h", start=NOW - timedelta(hours=1), end=NOW)
DAY = TimeRange(key="24h", start=NOW - timedelta(hours=24), end=NOW)


def page(data, **kw):
    args = dict(data=data, time_range=RANGE, function=fn(), deploys=[], account_limit=1000) | kw
    return charts.function_charts(**args)


def chart(payload, chart_id):
    return next(c for c in payload["charts"] if c["id"] == chart_id)


def ds_for(data, cap=compact.POINT_CAP):
    return compact.Downsampling.plan(ts=data.ts, step_s=data.step_s, cap=cap)


def trace(fig, name):
    return next(t for t in fig["data"] if t["name"] == name)


def test_every_chart_has_axis_titles_with_units_the_range_and_the_shared_time_axis():
    payload = page(busy())
    ids = [c["id"] for c in payload["charts"]]
    assert ids[:5] == ["invocations", "error-rate", "duration", "cold-starts", "concurrency"]
    for c in payload["charts"]:
        layout = c["figure"]["layout"]
        assert layout["xaxis"]["title"]["text"] == "time (UTC) · last 1 h"
        assert layout["xaxis"]["range"] == [axis_time(NOW - timedelta(hours=1)), axis_time(NOW)]
        y = layout["yaxis"]["title"]["text"]
        assert any(u in y for u in ("per minute", "%", "(ms)", "(MB)", "USD", "executions", "(s)")), y
        # automargin: tick labels and titles get the room they need (nothing clipped or overlapping)
        assert layout["yaxis"]["automargin"] and layout["xaxis"]["automargin"]
        for t in c["figure"]["data"]:
            assert "hovertemplate" in t
            assert t.get("connectgaps", False) is False


def test_counts_say_their_bucket_and_percentiles_say_highest_minute():
    data = busy(n=10, step=1800)
    payload = page(data)
    inv = chart(payload, "invocations")
    assert inv["figure"]["layout"]["yaxis"]["title"]["text"] == "count per 30 min"
    assert "highest 1-min value in each 30 min" in chart(payload, "duration")["title"]


def test_error_rate_is_errors_over_invocations_per_bucket_and_none_without_traffic():
    data = series(n=3, invocations=[100, 0, 50], errors=[5, 0, 50])
    fig = charts.error_rate_figure(data, RANGE, ds_for(data))
    assert fig["data"][0]["y"] == [5, None, 100]
    # unknown errors or invocations (the live edge) stay unknown, never 0 %
    unknown = series(n=3, invocations=[100, None, 50], errors=[5, 1, None])
    assert charts.error_rate_figure(unknown, RANGE, ds_for(unknown))["data"][0]["y"] == [5, None, None]


def test_value_axes_follow_the_data_with_round_ticks():
    data = busy(duration_p50=[200.0] * 60, duration_p90=[400.0] * 60, duration_p99=[780.0] * 59 + [840.0])
    fig = charts.duration_figure(data, RANGE, ds_for(data), timeout_s=15)
    y = fig["layout"]["yaxis"]
    assert y["range"] == [0, 1000] and y["dtick"] == 250 and y["autorange"] is False  # not 0 – 15,000
    # a percentage never goes past 100, a small count gets whole-number ticks
    assert axes.value_axis(98.0, cap=100)["range"] == [0, 100]
    assert axes.value_axis(2.0, integer=True) == {"range": [0, 3], "dtick": 1, "tick0": 0, "autorange": False}
    assert axes.value_axis(None)["range"] == [0, 1]


def test_timeout_is_a_line_in_reach_and_named_when_off_scale():
    far = busy(duration_p99=[840.0] * 60)
    fig = charts.duration_figure(far, RANGE, ds_for(far), timeout_s=15)
    assert [t["name"] for t in fig["data"]] == ["p50", "p90", "p99"]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["timeout 15 s, off scale"]
    near = busy(duration_p99=[4000.0] * 60)  # 6 s is within 2 × 4 s
    fig = charts.duration_figure(near, RANGE, ds_for(near), timeout_s=6)
    line = trace(fig, "timeout 6 s")
    assert line["y"] == [6000.0, 6000.0] and line["line"]["dash"] == "dash"
    assert fig["layout"]["annotations"] == []
    assert fig["layout"]["yaxis"]["range"][1] >= 6000  # the axis stretches to the drawn limit


def test_concurrency_limit_is_reserved_or_the_account_limit_drawn_only_in_reach():
    low = busy(concurrency_max=[1.0] * 59 + [2.0])
    a = charts.concurrency_figure(low, RANGE, ds_for(low), reserved=200, account_limit=1000)
    assert [t["name"] for t in a["data"]] == ["concurrency"]
    assert a["layout"]["annotations"][0]["text"] == "reserved 200, off scale"
    assert a["layout"]["yaxis"]["range"] == [0, 3]  # the line at 1–2 fills the chart
    high = busy(concurrency_max=[40.0] * 60)
    b = charts.concurrency_figure(high, RANGE, ds_for(high), reserved=50, account_limit=1000)
    assert trace(b, "reserved 50")["y"] == [50.0, 50.0]
    c = charts.concurrency_figure(high, RANGE, ds_for(high), reserved=None, account_limit=1000)
    assert c["layout"]["annotations"][0]["text"] == "account limit 1000, off scale"


def test_memory_limit_in_reach_and_unknown_memory_says_so():
    used = busy(memory_used_max_mb=[600.0] * 60)
    fig = charts.memory_figure(used, RANGE, ds_for(used), configured_mb=1024)
    assert trace(fig, "configured 1024 MB")["y"] == [1024.0, 1024.0]
    none = busy()
    fig = charts.memory_figure(none, RANGE, ds_for(none), configured_mb=1024)
    assert fig["layout"]["annotations"][0]["text"] == "configured 1024 MB · no data in range"


def test_cold_start_second_axis_has_its_own_round_ticks():
    quiet = busy()
    fig = charts.cold_start_figure(quiet, RANGE, ds_for(quiet))
    assert "yaxis2" not in fig["layout"] and [t["name"] for t in fig["data"]] == ["cold starts"]
    data = busy(cold_starts=[0] * 59 + [4], init_duration_sum=[0] * 59 + [1968.0],
                init_duration_max=[None] * 59 + [492.0])
    fig = charts.cold_start_figure(data, RANGE, ds_for(data))
    y2 = fig["layout"]["yaxis2"]
    assert y2["title"]["text"] == "init duration (ms)"
    assert y2["range"] == [0, 600] and y2["dtick"] == 200  # 0/200/400/600, not 123/246/369/492
    assert fig["layout"]["yaxis"]["range"] == [0, 6] and fig["layout"]["yaxis"]["dtick"] == 2
    assert trace(fig, "init avg")["y"][-1] == 492 and trace(fig, "init max")["y"][-1] == 492


def test_cost_ticks_are_round_dollars_with_room_for_the_title():
    data = busy(n=2, invocations=[1000, 1000], billed_gb_s=[10.0, 0], reports=[1000, 0], duration_avg=[None, 200.0])
    fig = charts.cost_figure(data, RANGE, ds_for(data), region="us-east-1", architecture="arm64", memory_mb=1024)
    y = fig["layout"]["yaxis"]
    assert y["tickprefix"] == "$" and y["tickformat"] == ",.3f" and y["dtick"] == 0.001
    costs = fig["data"][0]["y"]
    expected = lambda_cost(region="us-east-1", architecture="arm64", requests=1000, gb_seconds=200.0)
    assert costs[1] == pytest.approx(expected, rel=1e-2)  # no REPORT lines: 1000 × 200 ms × 1 GB


def test_cost_per_bucket_uses_the_cost_model_and_estimates_without_report_lines():
    data = series(n=2, invocations=[1000, 1000], billed_gb_s=[10.0, 0], reports=[1000, 0], duration_avg=[None, 200.0])
    costs = charts.bucket_costs(data, region="us-east-1", architecture="arm64", memory_mb=1024)
    assert costs[0] == pytest.approx(lambda_cost(region="us-east-1", architecture="arm64", requests=1000, gb_seconds=10.0))
    assert costs[1] == pytest.approx(lambda_cost(region="us-east-1", architecture="arm64", requests=1000, gb_seconds=200.0))


def test_downsampling_keeps_the_one_minute_spike_and_the_point_cap():
    n = 1440  # 24 h of minutes
    errors = [2.0] * n
    errors[777] = 950.0  # one bad minute
    errors[100] = 0.0  # and one quiet one
    data = busy(n=n, errors=errors)
    payload = page(data, time_range=DAY)
    assert payload["grids"]["line"]["n"] <= compact.POINT_CAP
    for c in payload["charts"]:
        for t in c["figure"]["data"]:
            assert len(t["y"]) <= compact.POINT_CAP, (c["id"], t["name"])
    err = trace(chart(payload, "invocations")["figure"], "errors")
    assert max(err["y"]) == 950 and min(err["y"]) == 0
    # the spike sits within its group's span of the minute it happened
    points = charts.grid_points(payload, err)
    at = next(ts for ts, v in points if v == 950)
    assert abs((at - data.ts[777]).total_seconds()) < payload["grids"]["line"]["step"] / 1000 * 2
    # bars are summed per group, and the axis says the group's width
    cold = busy(n=n, cold_starts=[1.0] * n)
    fig = chart(page(cold, time_range=DAY), "cold-starts")["figure"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "cold starts per 5 min"
    assert set(fig["data"][0]["y"]) == {5}


def test_min_and_max_of_a_group_come_in_time_order():
    ds = compact.Downsampling.plan(ts=series(n=8).ts, step_s=60, cap=4)
    assert ds.group == 4
    assert ds.line([1, 9, 3, 4, 8, 2, 5, 5]) == [1, 9, 8, 2]
    assert ds.bars([1, 1, 1, 1, 2, 2, None, 2]) == [4, 6]  # the known buckets' sum
    assert ds.bars([1, 1, 1, 1, None, None, None, None]) == [4, None]  # nothing known: a gap


def test_bar_groups_end_with_the_range_so_the_newest_is_whole_and_drawn():
    ds = compact.Downsampling.plan(ts=series(n=11).ts, step_s=60, cap=4)
    assert (ds.group, ds.groups) == (6, 2)
    # The short group is the oldest; the newest holds six buckets, one not known yet.
    assert ds.bars([1] * 10 + [None]) == [5, 5]  # 5 buckets, then 6 with one unknown
    assert ds.bars([None] * 5 + [2] * 6) == [None, 12]

    n = 1443  # a day and three minutes of buckets: not a whole number of 5-minute groups
    data = busy(n=n, cold_starts=[1.0] * (n - 1) + [None])  # the newest minute is never known yet
    payload = page(data, time_range=DAY)
    bars = chart(payload, "cold-starts")["figure"]["data"][0]
    assert bars["y"] == [3] + [5] * 287 + [4]
    points = charts.grid_points(payload, bars)
    assert points[-1] == (data.ts[-5], 4)  # the newest group starts five buckets before the end
    assert points[0] == (data.ts[0] - timedelta(minutes=2), 3)  # the oldest starts before the range


def test_unknown_minutes_stay_null_through_downsampling_and_rounding():
    n = 1440
    inv = [100.0] * (n - 20) + [None] * 20  # the newest minutes are not known yet
    payload = page(busy(n=n, invocations=inv, errors=[1.0] * (n - 20) + [None] * 20), time_range=DAY)
    y = trace(chart(payload, "invocations")["figure"], "invocations")["y"]
    assert y[-1] is None and y[-2] is None and 0 not in y
    rate = chart(payload, "error-rate")["figure"]["data"][0]["y"]
    assert rate[-1] is None and rate[0] == 1
    assert compact.rounded([None, 0.0, 1234.5678, 0.000123456, 100.0]) == [None, 0, 1230, 0.000123, 100]
    # and the JSON says null, not 0
    assert json.loads(json.dumps(payload))["charts"][0]["figure"]["data"][0]["y"][-1] is None


def test_no_timestamps_per_point_and_a_small_payload_at_24h():
    n = 1440
    data = busy(n=n, duration_p50=[123.456] * n, duration_p90=[234.567] * n, duration_p99=[812.3456] * n,
                concurrency_max=[3.0] * n, memory_used_max_mb=[311.0] * n)
    payload = page(data, time_range=DAY)
    grid = payload["grids"]["line"]
    assert grid["start"] == int(data.ts[0].timestamp() * 1000) and grid["step"] == 150_000 and grid["n"] == 576
    assert all("x" not in t for c in payload["charts"] for t in c["figure"]["data"] if "xgrid" in t)
    assert len(json.dumps(payload)) < 100_000


def test_an_idle_function_gets_one_empty_state_saying_why():
    last = NOW - timedelta(days=3)
    payload = page(series(), function=fn(last_invoked_at=last), time_range=DAY)
    assert payload["charts"] == []
    assert payload["empty"] == f"No invocations in the last 24 h; last invoked {last:%Y-%m-%d %H:%M} UTC."
    assert page(series())["empty"] == "No invocations in the last 1 h."
    # throttled only (every invocation refused) is not idle
    assert page(series(throttles=[5] * 60))["empty"] is None


def test_deploy_markers_on_every_chart_with_versions_and_a_link():
    deploys = [change(NOW - timedelta(minutes=20)), change(NOW - timedelta(minutes=5), source="rollback", to="42", frm="43")]
    payload = page(busy(), deploys=deploys)
    for c in payload["charts"]:
        layout = c["figure"]["layout"]
        assert len(layout["shapes"]) == 2
        notes = [(i, a) for i, a in enumerate(layout["annotations"]) if a.get("captureevents")]
        assert [a["text"] for _, a in notes] == ["live → v43", "↩ live → v42"]
        assert all("<a" not in a["text"] for a in layout["annotations"])  # the CSP refuses Plotly's link styles
        around = iso_s(NOW - timedelta(minutes=50)), iso_s(NOW + timedelta(minutes=10))  # the deploy ± 30 min
        first = layout["meta"]["links"][str(notes[0][0])]
        assert first == f"/functions/7/?range=custom&start={around[0]}&end={around[1]}"
    assert payload["charts"][0]["figure"]["layout"]["shapes"][1]["line"]["dash"] == "dot"


def test_age_chart_only_when_there_is_an_age():
    assert "age" not in [c["id"] for c in page(busy())["charts"]]
    age = chart(page(busy(iterator_age_max=[None] * 59 + [90_000.0])), "age")
    assert age["figure"]["data"][0]["y"][-1] == 90  # seconds


def test_version_comparison_appears_with_two_versions():
    v = lambda name: SimpleNamespace(version=name, data=busy(errors=[1] * 60, invocations=[10] * 60))  # noqa: E731
    ids = [c["id"] for c in page(busy(), versions=[v("43"), v("42")])["charts"]]
    assert ids[-2:] == ["version-error-rate", "version-p99"]
    rate = chart(page(busy(), versions=[v("43"), v("42")]), "version-error-rate")["figure"]
    assert [t["name"] for t in rate["data"]] == ["v43", "v42"] and rate["data"][0]["y"][0] == 10


def test_minute_link_and_the_clicked_group_travel_in_the_figure_meta():
    payload = page(busy(step=300, n=12), minute_url="/functions/7/minute")
    meta = payload["charts"][0]["figure"]["layout"]["meta"]
    assert meta["minute_url"] == "/functions/7/minute" and meta["step"] == 300
    assert meta["bucket"] == {"origin": payload["grids"]["line"]["start"], "width": 300_000}
    day = page(busy(n=1440), time_range=DAY)["charts"][0]["figure"]["layout"]["meta"]
    assert day["step"] == 300 and day["bucket"]["width"] == 300_000  # a point stands for 5 minutes


def test_sparkline_scales_errors_with_invocations():
    spark = charts.sparkline(series(n=4, invocations=[0, 10, 20, 1], errors=[0, 0, 20, 0]), width=90, height=20)
    assert spark["invocations"].split()[-1] == "90.0,1.0"
    assert spark["errors"].split()[-1] == "90.0,1.0"
    assert charts.sparkline(series(n=3, invocations=[1, 1, 1]))["errors"] == ""
    assert charts.sparkline(None) is None
    # an unknown bucket is left out of the line, not drawn as a drop to 0
    gap = charts.sparkline(series(n=5, invocations=[10, None, 10, 10, None], errors=[0, None, 0, 0, None]), width=90)
    assert gap["invocations"] == "0.0,1.0 60.0,1.0 90.0,1.0"  # the second of four buckets left out
