"""Plotly figure dicts from selector results: pure functions, no I/O.

Templates emit each figure with ``json_script``; ``static/js/charts.js`` draws them all. Every
chart shares the range's time axis (UTC), carries the deploy markers, and says in its axis
title how a bucket aggregates: counts are summed per bucket ("per 5 min"), percentiles and
maxima are the maximum within the bucket (never an average).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Iterable, Sequence

from ops.rules.cost import bucket_costs
from ops.selectors.telemetry import SeriesData, step_label
from ops.selectors.timerange import TimeRange

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


def ts_str(dt: datetime) -> str:
    """Plotly's date axis is zone-free: give it UTC wall time (the axis title says UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _x(data: SeriesData) -> list[str]:
    return [ts_str(t) for t in data.ts]


def _per(data: SeriesData) -> str:
    return f"per {step_label(data.step_s)}"


def base_layout(*, time_range: TimeRange, y_title: str, meta: dict | None = None) -> dict:
    return {
        "height": CHART_HEIGHT,
        "margin": {"l": 64, "r": 16, "t": 28, "b": 36},
        "hovermode": "x unified",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.18, "font": {"size": 11}},
        "xaxis": {
            "type": "date",
            "range": [ts_str(time_range.start), ts_str(time_range.end)],
            "title": {"text": "time (UTC)", "font": {"size": 11}},
            "showgrid": True,
            "gridcolor": "#eef1f4",
        },
        "yaxis": {
            "title": {"text": y_title, "font": {"size": 11}},
            "rangemode": "tozero",
            "gridcolor": "#eef1f4",
            "zeroline": False,
        },
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1b1f24"},
        "meta": meta or {},
    }


def _line(name: str, x, y, *, color: str, unit: str, dash: str | None = None, width: float = 1.6, **extra) -> dict:
    trace = {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y,
        "line": {"color": color, "width": width, **({"dash": dash} if dash else {})},
        "hovertemplate": f"{name}: %{{y:,.6~g}} {unit}<extra></extra>",
        "connectgaps": False,
    }
    trace.update(extra)
    return trace


def _limit_line(name: str, value: float, time_range: TimeRange, *, unit: str, color: str = LIMIT) -> dict:
    return _line(
        name,
        [ts_str(time_range.start), ts_str(time_range.end)],
        [value, value],
        color=color,
        unit=unit,
        dash="dash",
        width=1.2,
    )


def deploy_link(*, function_id: int, at: datetime, minutes: int = 30) -> str:
    """A window of ±``minutes`` around a deploy: what following a deploy marker opens."""
    start = (at - timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (at + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"/functions/{function_id}/?range=custom&start={start}&end={end}"


def deploy_label(change) -> str:
    arrow = "↩ " if change.is_rollback else ""
    weights = "".join(f" +v{v} {round(float(w) * 100)}%" for v, w in sorted((change.to_weights or {}).items()))
    return f"{arrow}{change.alias.name} → v{change.to_version}{weights}"


def with_deploys(fig: dict, deploys: Sequence, *, function_id: int, time_range: TimeRange | None = None) -> dict:
    """Add a vertical marker per alias change, labelled with the versions and linked to it.
    Labels in the right part of the chart hang to the left of their line so they stay inside."""
    shapes, notes = [], []
    span = time_range.seconds if time_range else 0
    for i, ch in enumerate(deploys):
        x = ts_str(ch.at)
        rollback = ch.is_rollback
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": BAD if rollback else DEPLOY, "width": 1, "dash": "dot" if rollback else "solid"},
            }
        )
        who = f" by {ch.actor.get_username()}" if getattr(ch, "actor", None) else ""
        frm = f"v{ch.from_version}" if ch.from_version else "∅"
        position = (ch.at - time_range.start).total_seconds() / span if span else 0
        notes.append(
            {
                "x": x,
                "xref": "x",
                "yref": "paper",
                "y": 1.0 - 0.1 * (i % 3),
                "yanchor": "top",
                "xanchor": "right" if position > 0.6 else "left",
                "showarrow": False,
                "text": f'<a href="{deploy_link(function_id=function_id, at=ch.at)}" target="_self">'
                f"{deploy_label(ch)}</a>",
                "hovertext": f"{ch.get_source_display()}: {ch.alias.name} {frm} → v{ch.to_version}{who}"
                f" at {ts_str(ch.at)} UTC",
                "font": {"size": 10, "color": BAD if rollback else DEPLOY},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
    fig["layout"]["shapes"] = fig["layout"].get("shapes", []) + shapes
    fig["layout"]["annotations"] = fig["layout"].get("annotations", []) + notes
    return fig


def _ratio(num: Sequence, den: Sequence) -> list[float | None]:
    return [(100.0 * (n or 0) / d) if d else None for n, d in zip(num, den)]


def invocations_figure(data: SeriesData, time_range: TimeRange) -> dict:
    per = _per(data)
    layout = base_layout(time_range=time_range, y_title=f"count {per}")
    x = _x(data)
    return {
        "data": [
            _line("invocations", x, data["invocations"], color=INK, unit=per),
            _line("errors", x, data["errors"], color=BAD, unit=per),
            _line("throttles", x, data["throttles"], color=WARN, unit=per),
        ],
        "layout": layout,
    }


def error_rate_figure(data: SeriesData, time_range: TimeRange) -> dict:
    layout = base_layout(time_range=time_range, y_title=f"error rate (% of invocations {_per(data)})")
    return {
        "data": [
            _line("error rate", _x(data), _ratio(data["errors"], data["invocations"]), color=BAD, unit="%"),
        ],
        "layout": layout,
    }


def duration_figure(data: SeriesData, time_range: TimeRange, *, timeout_s: int) -> dict:
    note = "max of 1-min values" if data.step_s == 60 else f"max within each {step_label(data.step_s)}"
    layout = base_layout(time_range=time_range, y_title=f"duration (ms), {note}")
    x = _x(data)
    return {
        "data": [
            _line("p50", x, data["duration_p50"], color=INK_3, unit="ms"),
            _line("p90", x, data["duration_p90"], color=INK_2, unit="ms"),
            _line("p99", x, data["duration_p99"], color=INK, unit="ms"),
            _limit_line(f"timeout {timeout_s} s", timeout_s * 1000.0, time_range, unit="ms"),
        ],
        "layout": layout,
    }


def cold_start_figure(data: SeriesData, time_range: TimeRange) -> dict:
    per = _per(data)
    layout = base_layout(time_range=time_range, y_title=f"cold starts {per}")
    x = _x(data)
    traces = [
        {
            "type": "bar",
            "name": "cold starts",
            "x": x,
            "y": data["cold_starts"],
            "marker": {"color": INK_3},
            "hovertemplate": f"cold starts: %{{y:,}} {per}<extra></extra>",
        }
    ]
    init_avg = [(s / c) if c else None for s, c in zip(data["init_duration_sum"], data["cold_starts"])]
    # The init-duration axis only when there is an init duration to draw (no empty right axis).
    if any(v is not None for v in init_avg) or any(v is not None for v in data["init_duration_max"]):
        layout["yaxis2"] = {
            "title": {"text": "init duration (ms)", "font": {"size": 11}},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        }
        layout["margin"]["r"] = 64
        traces += [
            _line("init avg", x, init_avg, color=INK, unit="ms", yaxis="y2"),
            _line("init max", x, data["init_duration_max"], color=INK_2, unit="ms", dash="dot", yaxis="y2"),
        ]
    return {"data": traces, "layout": layout}


def concurrency_figure(
    data: SeriesData, time_range: TimeRange, *, reserved: int | None, account_limit: int
) -> dict:
    layout = base_layout(time_range=time_range, y_title="concurrent executions (max in bucket)")
    limit_name, limit = (f"reserved {reserved}", reserved) if reserved is not None else (
        f"account limit {account_limit}",
        account_limit,
    )
    return {
        "data": [
            _line("concurrency", _x(data), data["concurrency_max"], color=INK, unit="executions"),
            _limit_line(limit_name, float(limit), time_range, unit="executions"),
        ],
        "layout": layout,
    }


def has_values(data: SeriesData, *columns: str) -> bool:
    return any(v for c in columns for v in data[c] if v)


def age_figure(data: SeriesData, time_range: TimeRange) -> dict:
    layout = base_layout(time_range=time_range, y_title="age (s), max in bucket")
    x = _x(data)
    traces = []
    if has_values(data, "iterator_age_max"):
        traces.append(_line("iterator age", x, _scale(data["iterator_age_max"], 0.001), color=INK, unit="s"))
    if has_values(data, "async_event_age_max"):
        traces.append(_line("async event age", x, _scale(data["async_event_age_max"], 0.001), color=INK_2, unit="s"))
    return {"data": traces, "layout": layout}


def _scale(values: Iterable, k: float) -> list:
    return [None if v is None else v * k for v in values]


def memory_figure(data: SeriesData, time_range: TimeRange, *, configured_mb: int) -> dict:
    layout = base_layout(time_range=time_range, y_title="memory (MB), max used in bucket")
    return {
        "data": [
            _line("max used", _x(data), data["memory_used_max_mb"], color=INK, unit="MB"),
            _limit_line(f"configured {configured_mb} MB", float(configured_mb), time_range, unit="MB", color=INK_2),
        ],
        "layout": layout,
    }


def cost_figure(data: SeriesData, time_range: TimeRange, *, region: str, architecture: str, memory_mb: int) -> dict:
    per = _per(data)
    layout = base_layout(time_range=time_range, y_title=f"cost (USD {per})")
    layout["yaxis"]["tickformat"] = "$.3~g"
    costs = bucket_costs(data, region=region, architecture=architecture, memory_mb=memory_mb)
    return {
        "data": [
            {
                "type": "bar",
                "name": "cost",
                "x": _x(data),
                "y": costs,
                "marker": {"color": INK_2},
                "hovertemplate": f"cost: $%{{y:.4f}} {per}<extra></extra>",
            }
        ],
        "layout": layout,
    }


VERSION_TONES = (INK, INK_2, "#5c7fa3", INK_3, "#8a6f9e")


def version_figures(versions: Sequence, time_range: TimeRange) -> tuple[dict, dict]:
    """Error rate and p99 per executed version, side by side (same axes as the other charts)."""
    rate_fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="error rate (%) per version")}
    p99_fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="p99 (ms), max in bucket, per version")}
    for i, v in enumerate(versions):
        if v.data is None:
            continue
        tone = VERSION_TONES[i % len(VERSION_TONES)]
        x = _x(v.data)
        rate_fig["data"].append(_line(f"v{v.version}", x, _ratio(v.data["errors"], v.data["invocations"]), color=tone, unit="%"))
        p99_fig["data"].append(_line(f"v{v.version}", x, v.data["duration_p99"], color=tone, unit="ms"))
    return rate_fig, p99_fig


def function_figures(
    *,
    data: SeriesData,
    time_range: TimeRange,
    function,
    deploys: Sequence,
    account_limit: int,
    versions: Sequence = (),
    minute_url: str = "",
) -> list[dict]:
    """Every chart of the function page, in page order: [{"id", "title", "figure"}]."""
    meta = {"minute_url": minute_url, "step": data.step_s}
    charts = [
        ("invocations", f"Invocations, errors, throttles ({_per(data)})", invocations_figure(data, time_range)),
        ("error-rate", "Error rate (%)", error_rate_figure(data, time_range)),
        ("duration", "Duration p50 / p90 / p99 (ms) vs timeout", duration_figure(data, time_range, timeout_s=function.timeout_s)),
        ("cold-starts", "Cold starts and init duration", cold_start_figure(data, time_range)),
        (
            "concurrency",
            "Concurrency vs limit",
            concurrency_figure(data, time_range, reserved=function.reserved_concurrency, account_limit=account_limit),
        ),
    ]
    if has_values(data, "iterator_age_max", "async_event_age_max"):
        charts.append(("age", "Iterator age / async event age (s)", age_figure(data, time_range)))
    charts.append(("memory", "Max memory used vs configured (MB)", memory_figure(data, time_range, configured_mb=function.memory_mb)))
    charts.append(
        (
            "cost",
            f"Cost (USD {_per(data)})",
            cost_figure(data, time_range, region=function.region, architecture=function.architecture, memory_mb=function.memory_mb),
        )
    )
    if len([v for v in versions if v.data is not None]) > 1:
        rate_fig, p99_fig = version_figures(versions, time_range)
        charts.append(("version-error-rate", "Error rate per version (%)", rate_fig))
        charts.append(("version-p99", "p99 per version (ms)", p99_fig))
    out = []
    for chart_id, title, fig in charts:
        fig["layout"]["meta"] = dict(meta)
        with_deploys(fig, deploys, function_id=function.id, time_range=time_range)
        out.append({"id": chart_id, "script_id": f"fig-{chart_id}", "title": title, "figure": fig})
    return out


def sparkline(data: SeriesData | None, *, width: int = 90, height: int = 20) -> dict | None:
    """SVG polyline points for a table row's trend: invocations, and errors on the same scale."""
    if data is None or not len(data):
        return None
    inv = [v or 0 for v in data["invocations"]]
    err = [v or 0 for v in data["errors"]]
    if len(inv) > 2:  # the newest bucket is still filling: a drop there would be misleading
        inv, err = inv[:-1], err[:-1]
    top = max(max(inv), max(err), 1)
    n = len(inv)

    def points(values) -> str:
        dx = width / max(n - 1, 1)
        return " ".join(f"{i * dx:.1f},{height - 1 - (v or 0) / top * (height - 2):.1f}" for i, v in enumerate(values))

    return {
        "width": width,
        "height": height,
        "invocations": points(inv),
        "errors": points(err) if any(err) else "",
        "title": f"invocations and errors {_per(data)}, peak {int(max(inv)):,} invocations, {int(max(err)):,} errors",
    }
