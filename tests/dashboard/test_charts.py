"""dashboard.charts: pure figure builders — units on axes, deploy markers, limits, spikes kept."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from dashboard import charts
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


def fn(**kw):
    base = dict(id=7, name="payments-api", timeout_s=6, memory_mb=1024, reserved_concurrency=None, region="us-east-1",
                architecture="arm64")
    return SimpleNamespace(**(base | kw))


def change(at, *, source="observed", to="43", frm="42"):
    return SimpleNamespace(
        at=at, source=source, to_version=to, from_version=frm, to_weights={}, alias=SimpleNamespace(name="live"),
        actor=None, get_source_display=lambda: source, is_rollback=source == "rollback",
    )


RANGE = TimeRange(key="1h", start=NOW - timedelta(hours=1), end=NOW)


def test_every_chart_has_axis_titles_with_units_and_the_shared_time_axis():
    data = series(invocations=[100] * 60, errors=[1] * 60)
    figs = charts.function_figures(data=data, time_range=RANGE, function=fn(), deploys=[], account_limit=1000)
    assert [f["id"] for f in figs][:5] == ["invocations", "error-rate", "duration", "cold-starts", "concurrency"]
    for f in figs:
        layout = f["figure"]["layout"]
        assert layout["xaxis"]["title"]["text"] == "time (UTC)"
        assert layout["xaxis"]["range"] == [axis_time(NOW - timedelta(hours=1)), axis_time(NOW)]
        y = layout["yaxis"]["title"]["text"]
        assert any(u in y for u in ("per minute", "%", "(ms)", "(MB)", "USD", "executions", "(s)")), y
        for trace in f["figure"]["data"]:
            assert "hovertemplate" in trace


def test_counts_say_their_bucket_and_percentiles_say_max():
    data = series(n=10, step=1800)
    inv = charts.invocations_figure(data, RANGE)
    assert inv["layout"]["yaxis"]["title"]["text"] == "count per 30 min"
    dur = charts.duration_figure(data, RANGE, timeout_s=6)
    assert "max within each 30 min" in dur["layout"]["yaxis"]["title"]["text"]
    timeout = dur["data"][-1]
    assert timeout["name"] == "timeout 6 s" and timeout["y"] == [6000.0, 6000.0]


def test_error_rate_is_errors_over_invocations_per_bucket_and_none_without_traffic():
    data = series(n=3, invocations=[100, 0, 50], errors=[5, 0, 50])
    fig = charts.error_rate_figure(data, RANGE)
    assert fig["data"][0]["y"] == [5.0, None, 100.0]


def test_deploy_markers_on_every_chart_with_versions_and_a_link():
    data = series()
    deploys = [change(NOW - timedelta(minutes=20)), change(NOW - timedelta(minutes=5), source="rollback", to="42", frm="43")]
    figs = charts.function_figures(data=data, time_range=RANGE, function=fn(), deploys=deploys, account_limit=1000)
    for f in figs:
        layout = f["figure"]["layout"]
        assert len(layout["shapes"]) == 2
        texts = [a["text"] for a in layout["annotations"]]
        assert "live → v43" in texts[0] and "/functions/7/?range=custom&amp;" not in texts[0]
        around = iso_s(NOW - timedelta(minutes=50)), iso_s(NOW + timedelta(minutes=10))  # the deploy ± 30 min
        assert f'href="/functions/7/?range=custom&start={around[0]}&end={around[1]}"' in texts[0]
        assert "↩ live → v42" in texts[1]
    assert figs[0]["figure"]["layout"]["shapes"][1]["line"]["dash"] == "dot"


def test_concurrency_limit_is_reserved_or_the_account_limit():
    data = series()
    a = charts.concurrency_figure(data, RANGE, reserved=50, account_limit=1000)
    b = charts.concurrency_figure(data, RANGE, reserved=None, account_limit=1000)
    assert a["data"][1]["name"] == "reserved 50" and b["data"][1]["name"] == "account limit 1000"


def test_age_chart_only_when_there_is_an_age():
    quiet = series()
    figs = charts.function_figures(data=quiet, time_range=RANGE, function=fn(), deploys=[], account_limit=1000)
    assert "age" not in [f["id"] for f in figs]
    busy = series(iterator_age_max=[None] * 59 + [90_000.0])
    figs = charts.function_figures(data=busy, time_range=RANGE, function=fn(), deploys=[], account_limit=1000)
    age = next(f for f in figs if f["id"] == "age")
    assert age["figure"]["data"][0]["y"][-1] == 90.0  # seconds


def test_cost_per_bucket_uses_the_cost_model_and_estimates_without_report_lines():
    data = series(n=2, invocations=[1000, 1000], billed_gb_s=[10.0, 0], reports=[1000, 0], duration_avg=[None, 200.0])
    costs = charts.bucket_costs(data, region="us-east-1", architecture="arm64", memory_mb=1024)
    assert costs[0] == pytest.approx(lambda_cost(region="us-east-1", architecture="arm64", requests=1000, gb_seconds=10.0))
    # no REPORT lines: 1000 × 200 ms × 1 GB = 200 GB-s
    assert costs[1] == pytest.approx(lambda_cost(region="us-east-1", architecture="arm64", requests=1000, gb_seconds=200.0))


def test_version_comparison_appears_with_two_versions():
    v = lambda name: SimpleNamespace(version=name, data=series(invocations=[10] * 60, errors=[1] * 60))  # noqa: E731
    figs = charts.function_figures(data=series(), time_range=RANGE, function=fn(), deploys=[], account_limit=1000,
                                   versions=[v("43"), v("42")])
    ids = [f["id"] for f in figs]
    assert ids[-2:] == ["version-error-rate", "version-p99"]
    assert [t["name"] for t in figs[-2]["figure"]["data"]] == ["v43", "v42"]


def test_minute_link_travels_in_the_figure_meta():
    figs = charts.function_figures(data=series(step=300, n=12), time_range=RANGE, function=fn(), deploys=[],
                                   account_limit=1000, minute_url="/functions/7/minute")
    assert figs[0]["figure"]["layout"]["meta"] == {"minute_url": "/functions/7/minute", "step": 300}


def test_sparkline_scales_errors_with_invocations():
    spark = charts.sparkline(series(n=4, invocations=[0, 10, 20, 1], errors=[0, 0, 20, 0]), width=90, height=20)
    assert spark["invocations"].split()[-1] == "90.0,1.0"
    assert spark["errors"].split()[-1] == "90.0,1.0"
    assert charts.sparkline(series(n=3, invocations=[1, 1, 1]))["errors"] == ""
    assert charts.sparkline(None) is None


def test_cold_start_chart_has_an_init_axis_only_when_there_is_init_data():
    quiet = charts.cold_start_figure(series(), RANGE)
    assert "yaxis2" not in quiet["layout"] and [t["name"] for t in quiet["data"]] == ["cold starts"]
    cold = [0] * 59 + [2]
    init_sum = [0] * 59 + [500.0]
    init_max = [None] * 59 + [300.0]
    busy = charts.cold_start_figure(
        series(cold_starts=cold, init_duration_sum=init_sum, init_duration_max=init_max), RANGE
    )
    assert busy["layout"]["yaxis2"]["title"]["text"] == "init duration (ms)"
    by_name = {t["name"]: t for t in busy["data"]}
    assert by_name["init avg"]["y"][-1] == 250.0 and by_name["init max"]["y"][-1] == 300.0
