"""Plotly figure dicts for the function page from selector results: pure functions, no I/O.

Every chart shares the range's time axis (UTC) and carries the deploy markers. Each value axis
is scaled to its own data (``dashboard.charts.axes``) and its title names the unit; the chart's
title (the figure caption) says how a point aggregates: counts per bucket, percentiles and
maxima as the highest 1-minute value (never an average). Points travel compactly
(``dashboard.charts.compact``): a trace names its grid ("line" or "bar") instead of carrying
its x values, and charts.js expands it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Sequence

from dashboard.charts.axes import decimals_for, in_reach, peak, value_axis
from dashboard.charts.compact import Downsampling
from ops.rules.cost import bucket_costs
from ops.selectors.telemetry import SeriesData, step_label
from ops.selectors.timerange import TimeRange
from ops.timefmt import iso_utc

# Neutral tones for ordinary lines; the state colours (matching app.css) only where a line is a
# problem (errors, throttles) or a limit.
INK = "#3b4a5a"
INK_2 = "#7d8a99"
INK_3 = "#b3bcc6"
BAD = "#cf222e"
WARN = "#9a6700"
LIMIT = "#cf222e"
DEPLOY = "#0b5cad"
CHART_HEIGHT = 230
AXIS_FONT = {"size": 11}


def ts_str(dt: datetime) -> str:
    """Plotly's date axis is zone-free: give it UTC wall time (the axis title says UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def base_layout(*, time_range: TimeRange, y_title: str, y_axis: dict | None = None) -> dict:
    return {
        "height": CHART_HEIGHT,
        # automargin grows a margin to fit tick labels and titles: nothing is clipped, no tick
        # label runs into its axis title.
        "margin": {"l": 56, "r": 16, "t": 28, "b": 36},
        "hovermode": "x unified",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.18, "font": AXIS_FONT},
        "xaxis": {
            "type": "date",
            "range": [ts_str(time_range.start), ts_str(time_range.end)],
            "title": {"text": f"time (UTC) · {time_range.label}", "font": AXIS_FONT, "standoff": 4},
            "hoverformat": "%Y-%m-%d %H:%M UTC",
            "showgrid": True,
            "gridcolor": "#eef1f4",
            # Height only: a date label at the left edge ("00:00 / Dec 1, 2026") pushing the left
            # margin moves every tick, which can move that label off the edge again; Plotly then
            # gives up ("Too many auto-margin redraws"). The y-axis labels size the left margin.
            "automargin": "height",
        },
        "yaxis": {
            "title": {"text": y_title, "font": AXIS_FONT, "standoff": 6},
            "gridcolor": "#eef1f4",
            "zeroline": False,
            "automargin": True,
            **(y_axis or {}),
        },
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1b1f24"},
        "annotations": [],
        "shapes": [],
    }


def count_axis(top: float | None) -> dict:
    axis = value_axis(top, integer=True)
    # Whole counts: thousands separators, SI suffixes once the labels would grow wide.
    axis["tickformat"] = "~s" if axis["range"][1] >= 10_000 else ",d"
    return axis


def measure_axis(top: float | None, *, cap: float | None = None) -> dict:
    axis = value_axis(top, cap=cap)
    axis["tickformat"] = f",.{decimals_for(axis['dtick'])}f"
    return axis


def _line(name: str, y, *, color: str, unit: str, grid: str = "line", dash: str | None = None, width: float = 1.6,
          fmt: str = ",.3~g", **extra) -> dict:
    trace = {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "xgrid": grid,
        "y": y,
        "line": {"color": color, "width": width, **({"dash": dash} if dash else {})},
        "hovertemplate": f"{name}: %{{y:{fmt}}} {unit}<extra></extra>",
        # A null is a minute not known (yet): a gap, never a line down to 0.
        "connectgaps": False,
    }
    trace.update(extra)
    return trace


def _bars(name: str, y, *, color: str, unit: str, fmt: str = ",.3~g") -> dict:
    return {
        "type": "bar",
        "name": name,
        "xgrid": "bar",
        "y": y,
        "marker": {"color": color},
        "hovertemplate": f"{name}: %{{y:{fmt}}} {unit}<extra></extra>",
    }


def with_limit(fig: dict, *, name: str, value: float | None, data_peak: float | None, time_range: TimeRange,
               unit: str, axis: str = "y", color: str = LIMIT) -> bool:
    """Draw ``value`` as a dashed line when the data come within reach of it, else name it in
    the chart's top-right corner ("timeout 15 s, off scale"). True when it is drawn."""
    if value is None:
        return False
    if in_reach(value, data_peak):
        fig["data"].append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": [ts_str(time_range.start), ts_str(time_range.end)],
                "y": [value, value],
                "line": {"color": color, "width": 1.2, "dash": "dash"},
                "hovertemplate": f"{name}<extra></extra>",
                "yaxis": axis,
            }
        )
        return True
    text = f"{name}, off scale" if data_peak else f"{name} · no data in range"
    fig["layout"]["annotations"].append(
        {
            "xref": "paper", "yref": "paper", "x": 1, "y": 1, "xanchor": "right", "yanchor": "bottom",
            "showarrow": False, "text": text, "font": {"size": 10, "color": color},
        }
    )
    return False


def deploy_link(*, function_id: int, at: datetime, minutes: int = 30) -> str:
    """A window of ±``minutes`` around a deploy: what following a deploy marker opens."""
    start, end = iso_utc(at - timedelta(minutes=minutes)), iso_utc(at + timedelta(minutes=minutes))
    return f"/functions/{function_id}/?range=custom&start={start}&end={end}"


def deploy_label(change) -> str:
    arrow = "↩ " if change.is_rollback else ""
    weights = "".join(f" +v{v} {round(float(w) * 100)}%" for v, w in sorted((change.to_weights or {}).items()))
    return f"{arrow}{change.alias.name} → v{change.to_version}{weights}"


def with_deploys(fig: dict, deploys: Sequence, *, function_id: int, time_range: TimeRange | None = None) -> dict:
    """Add a vertical marker per alias change, labelled with the versions. Labels in the right
    part of the chart hang to the left of their line so they stay inside.

    A label is plain text that captures clicks; charts.js follows ``meta.links[index]``. (An
    <a> in an annotation would make plotly.js write a style attribute, which the CSP refuses.)"""
    layout = fig["layout"]
    links = layout.setdefault("meta", {}).setdefault("links", {})
    span = time_range.seconds if time_range else 0
    for i, ch in enumerate(deploys):
        x = ts_str(ch.at)
        rollback = ch.is_rollback
        layout["shapes"].append(
            {
                "type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                "line": {"color": BAD if rollback else DEPLOY, "width": 1, "dash": "dot" if rollback else "solid"},
            }
        )
        who = f" by {ch.actor.get_username()}" if getattr(ch, "actor", None) else ""
        frm = f"v{ch.from_version}" if ch.from_version else "∅"
        position = (ch.at - time_range.start).total_seconds() / span if span else 0
        links[str(len(layout["annotations"]))] = deploy_link(function_id=function_id, at=ch.at)
        layout["annotations"].append(
            {
                "x": x, "xref": "x", "yref": "paper", "y": 1.0 - 0.1 * (i % 3), "yanchor": "top",
                "xanchor": "right" if position > 0.6 else "left",
                "showarrow": False,
                "captureevents": True,
                "text": deploy_label(ch),
                "hovertext": f"{ch.get_source_display()}: {ch.alias.name} {frm} → v{ch.to_version}{who}"
                f" at {ts_str(ch.at)} UTC · click to centre on it",
                "font": {"size": 10, "color": BAD if rollback else DEPLOY},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
    return fig


def ratio(num: Sequence, den: Sequence) -> list[float | None]:
    """Per bucket, in percent; None where either side is unknown or there was no traffic."""
    return [None if n is None or not d else 100.0 * n / d for n, d in zip(num, den)]


def scaled(values: Sequence, k: float) -> list:
    return [None if v is None else v * k for v in values]


def has_values(data: SeriesData, *columns: str) -> bool:
    return any(v for c in columns for v in data[c] if v)


def invocations_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling) -> dict:
    per = f"per {step_label(data.step_s)}"
    cols = ("invocations", "errors", "throttles")
    fig = {"data": [], "layout": base_layout(time_range=time_range, y_title=f"count {per}",
                                             y_axis=count_axis(peak(*(data[c] for c in cols))))}
    for col, color in zip(cols, (INK, BAD, WARN)):
        fig["data"].append(_line(col, ds.line(data[col]), color=color, unit=per, fmt=",.0f"))
    return fig


def error_rate_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling) -> dict:
    rates = ratio(data["errors"], data["invocations"])
    layout = base_layout(time_range=time_range, y_title="error rate (%)", y_axis=measure_axis(peak(rates), cap=100))
    return {"data": [_line("error rate", ds.line(rates), color=BAD, unit="%")], "layout": layout}


def duration_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling, *, timeout_s: int) -> dict:
    cols = ("duration_p50", "duration_p90", "duration_p99")
    top = peak(*(data[c] for c in cols))
    timeout_ms = timeout_s * 1000.0
    drawn = in_reach(timeout_ms, top)
    fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="duration (ms)",
                                             y_axis=measure_axis(max(top, timeout_ms) if drawn else top))}
    for col, color in zip(cols, (INK_3, INK_2, INK)):
        fig["data"].append(_line(col.removeprefix("duration_"), ds.line(data[col]), color=color, unit="ms"))
    with_limit(fig, name=f"timeout {timeout_s} s", value=timeout_ms, data_peak=top, time_range=time_range, unit="ms")
    return fig


def cold_start_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling) -> dict:
    per = f"per {step_label(ds.bar_step_s)}"
    cold = ds.bars(data["cold_starts"])
    fig = {"data": [_bars("cold starts", cold, color=INK_3, unit=per, fmt=",.0f")],
           "layout": base_layout(time_range=time_range, y_title=f"cold starts {per}", y_axis=count_axis(peak(cold)))}
    init_avg = [None if s is None or not c else s / c for s, c in zip(data["init_duration_sum"], data["cold_starts"])]
    init_max = data["init_duration_max"]
    top = peak(init_avg, init_max)
    # The init-duration axis only when there is an init duration to draw (no empty right axis);
    # its own round ticks (0, 200, 400 ms), not ticks forced onto the count axis' grid lines.
    if top is not None:
        axis = measure_axis(top)
        fig["layout"]["yaxis2"] = {
            "title": {"text": "init duration (ms)", "font": AXIS_FONT, "standoff": 6},
            "overlaying": "y", "side": "right", "showgrid": False, "zeroline": False, "automargin": True,
            "tickmode": "linear", **axis,
        }
        fig["layout"]["margin"]["r"] = 56
        fig["data"] += [
            _line("init avg", ds.line(init_avg), color=INK, unit="ms", yaxis="y2"),
            _line("init max", ds.line(init_max), color=INK_2, unit="ms", dash="dot", yaxis="y2"),
        ]
    return fig


def concurrency_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling, *, reserved: int | None,
                       account_limit: int) -> dict:
    name, limit = (f"reserved {reserved}", reserved) if reserved is not None else (
        f"account limit {account_limit}", account_limit)
    top = peak(data["concurrency_max"])
    drawn = in_reach(limit, top)
    fig = {"data": [_line("concurrency", ds.line(data["concurrency_max"]), color=INK, unit="executions", fmt=",.0f")],
           "layout": base_layout(time_range=time_range, y_title="concurrent executions",
                                 y_axis=count_axis(max(top, limit) if drawn else top))}
    with_limit(fig, name=name, value=float(limit), data_peak=top, time_range=time_range, unit="executions")
    return fig


def age_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling) -> dict:
    iterator, async_age = scaled(data["iterator_age_max"], 0.001), scaled(data["async_event_age_max"], 0.001)
    fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="age (s)",
                                             y_axis=measure_axis(peak(iterator, async_age)))}
    if has_values(data, "iterator_age_max"):
        fig["data"].append(_line("iterator age", ds.line(iterator), color=INK, unit="s"))
    if has_values(data, "async_event_age_max"):
        fig["data"].append(_line("async event age", ds.line(async_age), color=INK_2, unit="s"))
    return fig


def memory_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling, *, configured_mb: int) -> dict:
    top = peak(data["memory_used_max_mb"])
    drawn = in_reach(configured_mb, top)
    fig = {"data": [_line("max used", ds.line(data["memory_used_max_mb"]), color=INK, unit="MB", fmt=",.0f")],
           "layout": base_layout(time_range=time_range, y_title="memory (MB)",
                                 y_axis=count_axis(max(top, configured_mb) if drawn else top))}
    with_limit(fig, name=f"configured {configured_mb} MB", value=float(configured_mb), data_peak=top,
               time_range=time_range, unit="MB", color=INK_2)
    return fig


def cost_figure(data: SeriesData, time_range: TimeRange, ds: Downsampling, *, region: str, architecture: str,
                memory_mb: int) -> dict:
    per = f"per {step_label(ds.bar_step_s)}"
    costs = ds.bars(bucket_costs(data, region=region, architecture=architecture, memory_mb=memory_mb))
    axis = value_axis(peak(costs))
    axis |= {"tickprefix": "$", "tickformat": f",.{decimals_for(axis['dtick'])}f"}
    return {"data": [_bars("cost", costs, color=INK_2, unit=per, fmt="$,.4~f")],
            "layout": base_layout(time_range=time_range, y_title=f"USD {per}", y_axis=axis)}


VERSION_TONES = (INK, INK_2, "#5c7fa3", INK_3, "#8a6f9e")


def version_figures(versions: Sequence, time_range: TimeRange, ds: Downsampling) -> tuple[dict, dict]:
    """Error rate and p99 per executed version, side by side (same axes as the other charts)."""
    drawn = [v for v in versions if v.data is not None]
    rates = {v.version: ratio(v.data["errors"], v.data["invocations"]) for v in drawn}
    p99s = {v.version: v.data["duration_p99"] for v in drawn}
    rate_fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="error rate (%)",
                                                  y_axis=measure_axis(peak(*rates.values()), cap=100))}
    p99_fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="p99 (ms)",
                                                 y_axis=measure_axis(peak(*p99s.values())))}
    for i, v in enumerate(drawn):
        tone = VERSION_TONES[i % len(VERSION_TONES)]
        rate_fig["data"].append(_line(f"v{v.version}", ds.line(rates[v.version]), color=tone, unit="%"))
        p99_fig["data"].append(_line(f"v{v.version}", ds.line(p99s[v.version]), color=tone, unit="ms"))
    return rate_fig, p99_fig
