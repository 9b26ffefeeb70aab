"""The one chart pipeline's server half: selector results → one JSON payload per page.

``function_charts`` builds every chart of the function page (``figures``), downsampled and
rounded (``compact``), on axes scaled to the data (``axes``). The template emits the payload
once with ``json_script``; ``static/js/charts.js`` draws every chart from it. Pure: no I/O.

Payload::

    {"grids": {"line": {"start": <epoch ms>, "step": <ms>, "n": <slots>}, "bar": {…}},
     "charts": [{"id": "invocations", "title": "…", "figure": {"data": […], "layout": {…}}}, …],
     "empty": null | "No invocations in the last 24 h; last invoked …"}

A trace's ``xgrid`` names the grid its y values sit on; charts.js turns it into x values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Sequence

from dashboard.charts.compact import POINT_CAP, Downsampling, Grid
from dashboard.charts.figures import (
    age_figure,
    cold_start_figure,
    concurrency_figure,
    cost_figure,
    deploy_label,
    deploy_link,
    duration_figure,
    error_rate_figure,
    has_values,
    invocations_figure,
    memory_figure,
    ts_str,
    version_figures,
    with_deploys,
)
from ops.rules.cost import bucket_costs
from ops.selectors.telemetry import SeriesData, step_label
from ops.selectors.timerange import TimeRange

__all__ = [
    "POINT_CAP", "Downsampling", "Grid", "age_figure", "bucket_costs", "cold_start_figure", "concurrency_figure",
    "cost_figure", "deploy_label", "deploy_link", "duration_figure", "error_rate_figure", "function_charts",
    "grid_points", "idle_message", "invocations_figure", "memory_figure", "sparkline", "ts_str", "version_figures",
    "with_deploys",
]

TRAFFIC = ("invocations", "errors", "throttles")


def idle_message(*, time_range: TimeRange, last_invoked_at: datetime | None) -> str:
    """Why an idle function's page has no charts, in one sentence."""
    where = f"the {time_range.label}" if time_range.key != "custom" else time_range.label
    last = f"; last invoked {last_invoked_at:%Y-%m-%d %H:%M} UTC" if last_invoked_at else ""
    return f"No invocations in {where}{last}."


def function_charts(
    *,
    data: SeriesData,
    time_range: TimeRange,
    function,
    deploys: Sequence,
    account_limit: int,
    versions: Sequence = (),
    minute_url: str = "",
    cap: int = POINT_CAP,
) -> dict:
    """Every chart of the function page, in page order, as the page's one payload."""
    ds = Downsampling.plan(ts=data.ts, step_s=data.step_s, cap=cap)
    grids = {"line": ds.line_grid.as_json(), "bar": ds.bar_grid.as_json()}
    if not has_values(data, *TRAFFIC):
        message = idle_message(time_range=time_range, last_invoked_at=getattr(function, "last_invoked_at", None))
        return {"grids": grids, "charts": [], "empty": message}
    per = step_label(data.step_s)
    bar_per = step_label(ds.bar_step_s)
    top = "highest 1-min value" if data.step_s == 60 else f"highest 1-min value in each {per}"
    charts = [
        ("invocations", f"Invocations, errors, throttles (count per {per})", invocations_figure(data, time_range, ds)),
        ("error-rate", f"Error rate (% of invocations per {per})", error_rate_figure(data, time_range, ds)),
        ("duration", f"Duration p50 / p90 / p99 (ms, {top}) vs timeout",
         duration_figure(data, time_range, ds, timeout_s=function.timeout_s)),
        ("cold-starts", f"Cold starts (per {bar_per}) and init duration (ms)", cold_start_figure(data, time_range, ds)),
        ("concurrency", "Concurrency (max concurrent executions) vs limit",
         concurrency_figure(data, time_range, ds, reserved=function.reserved_concurrency, account_limit=account_limit)),
    ]
    if has_values(data, "iterator_age_max", "async_event_age_max"):
        charts.append(
            ("age", "Iterator age / async event age (s, highest in bucket)", age_figure(data, time_range, ds))
        )
    charts.append(("memory", "Max memory used vs configured (MB)",
                   memory_figure(data, time_range, ds, configured_mb=function.memory_mb)))
    cost = cost_figure(
        data, time_range, ds, region=function.region, architecture=function.architecture, memory_mb=function.memory_mb
    )
    charts.append(("cost", f"Cost (USD per {bar_per})", cost))
    if len([v for v in versions if v.data is not None]) > 1:
        rate_fig, p99_fig = version_figures(versions, time_range, ds)
        charts.append(("version-error-rate", "Error rate per version (%)", rate_fig))
        charts.append(("version-p99", f"p99 per version (ms, {top})", p99_fig))
    # A clicked point opens the error lines of its whole group of buckets (charts.js floors the
    # clicked time to a group start from these).
    bucket = {"origin": grids["line"]["start"], "width": ds.bar_step_s * 1000}
    out = []
    for chart_id, title, fig in charts:
        fig["layout"]["meta"] = {"minute_url": minute_url, "step": ds.bar_step_s, "bucket": bucket}
        with_deploys(fig, deploys, function_id=function.id, time_range=time_range)
        out.append({"id": chart_id, "title": title, "figure": fig})
    return {"grids": grids, "charts": out, "empty": None}


def grid_points(payload: dict, trace: dict) -> list[tuple[datetime, object]]:
    """A trace's (time, value) pairs as charts.js draws them (for tests and checks)."""
    if "x" in trace:
        return list(zip(trace["x"], trace["y"]))
    g = payload["grids"][trace["xgrid"]]
    start = datetime.fromtimestamp(g["start"] / 1000, tz=UTC)
    times = Grid(start, g["step"], g["n"]).times()
    return list(zip(times, trace["y"]))


def sparkline(data: SeriesData | None, *, width: int = 90, height: int = 20) -> dict | None:
    """SVG polyline points for a table row's trend: invocations, and errors on the same scale.
    A bucket not known yet is left out (the line joins across it), never drawn as 0."""
    if data is None or not len(data):
        return None
    inv, err = list(data["invocations"]), list(data["errors"])
    if len(inv) > 2:  # the newest bucket is still filling: a drop there would be misleading
        inv, err = inv[:-1], err[:-1]
    known_inv = [v for v in inv if v is not None] or [0]
    known_err = [v for v in err if v is not None] or [0]
    top = max(max(known_inv), max(known_err), 1)
    n = len(inv)

    def points(values) -> str:
        dx = width / max(n - 1, 1)
        return " ".join(
            f"{i * dx:.1f},{height - 1 - v / top * (height - 2):.1f}" for i, v in enumerate(values) if v is not None
        )

    return {
        "width": width,
        "height": height,
        "invocations": points(inv),
        "errors": points(err) if any(known_err) else "",
        "title": f"invocations and errors per {step_label(data.step_s)}, peak {int(max(known_inv)):,} invocations,"
        f" {int(max(known_err)):,} errors",
    }
