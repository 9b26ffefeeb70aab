"""The rule preview's chart: the metric per minute over the replayed 7 days, the threshold as a
dashed line, and the minutes the rule would have been firing shaded (pure, no I/O)."""

from __future__ import annotations

from dashboard.charts.axes import peak
from dashboard.charts.compact import Downsampling
from dashboard.charts.figures import BAD, INK, LIMIT, _line, base_layout, measure_axis, ts_str
from ops.alerts.preview import Preview
from ops.selectors.timerange import TimeRange

FIRING_FILL = "rgba(207, 34, 46, 0.14)"


def rule_preview_chart(preview: Preview, *, metric: str, unit: str, threshold: float) -> dict:
    """The one-chart payload static/js/charts.js draws (dashboard.charts' format)."""
    if preview.start is None or not preview.values:
        return {"grids": {}, "charts": [], "empty": preview.reason or "Nothing to replay."}
    tr = TimeRange(key="custom", start=preview.start, end=preview.end)
    ts = [preview.start + (preview.end - preview.start) * i / len(preview.values) for i in range(len(preview.values))]
    ds = Downsampling.plan(ts=ts, step_s=60)
    top = peak(preview.values, [threshold])
    layout = base_layout(time_range=tr, y_title=f"{metric} ({unit})", y_axis=measure_axis(top))
    layout["xaxis"]["title"]["text"] = "time (UTC) · the last 7 days of stored data"
    fig = {"data": [_line(metric, ds.line(preview.values), color=INK, unit=unit)], "layout": layout}
    fig["data"].append({
        "type": "scatter", "mode": "lines", "name": f"threshold {threshold:g} {unit}",
        "x": [ts_str(tr.start), ts_str(tr.end)], "y": [threshold, threshold],
        "line": {"color": LIMIT, "width": 1.2, "dash": "dash"}, "hovertemplate": f"threshold {threshold:g} {unit}<extra></extra>",
    })
    for a, b in preview.spans:
        layout["shapes"].append({"type": "rect", "xref": "x", "yref": "paper", "x0": ts_str(a), "x1": ts_str(b),
                                 "y0": 0, "y1": 1, "fillcolor": FIRING_FILL, "line": {"width": 0}, "layer": "below"})
    if preview.spans:
        # A legend entry for the shading (shapes have none of their own).
        fig["data"].append({"type": "scatter", "mode": "markers", "name": "would have been firing", "x": [None],
                            "y": [None], "marker": {"color": BAD, "symbol": "square", "opacity": 0.3},
                            "hoverinfo": "skip"})
    return {"grids": {"line": ds.line_grid.as_json()},
            "charts": [{"id": "rule-preview", "title": f"{metric} per minute, with this rule's firing spans",
                        "figure": fig}],
            "empty": None}
