"""The DLQ page's depth chart: the poller's reads (visible, in flight) and the AWS/SQS metric's
history, on the page's time axis. Pure: selector results in, a Plotly figure dict out."""

from __future__ import annotations

from dashboard.charts.axes import peak
from dashboard.charts.figures import base_layout, count_axis, ts_str
from ops.selectors.timerange import TimeRange


def _trace(name: str, points, *, color: str, dash: str | None = None, shape: str = "hv") -> dict:
    return {
        "type": "scatter",
        "mode": "lines+markers" if len(points) < 3 else "lines",
        "name": name,
        "x": [ts_str(t) for t, _ in points],
        "y": [v for _, v in points],
        "line": {"color": color, "width": 1.6, "shape": shape, **({"dash": dash} if dash else {})},
        "hovertemplate": f"{name}: %{{y:,.0f}} messages<extra></extra>",
        "connectgaps": False,
    }


def dlq_depth_chart(*, chart: dict, time_range: TimeRange) -> dict:
    """The page's one chart payload (drawn by static/js/charts.js), or ``empty`` saying why not."""
    reads = chart.get("attributes") or []
    metric = chart.get("metric") or []
    if not reads and not metric:
        return {"grids": {}, "charts": [], "empty": f"No depth read in the {time_range.label}: neither the DLQ poller nor the AWS/SQS metric has a sample."}
    visible = [(t, v) for t, v, _ in reads]
    in_flight = [(t, f) for t, _, f in reads]
    top = peak([v for _, v in visible], [f for _, f in in_flight], [v for _, v in metric])
    fig = {"data": [], "layout": base_layout(time_range=time_range, y_title="messages", y_axis=count_axis(top))}
    if visible:
        fig["data"].append(_trace("visible (GetQueueAttributes)", visible, color="#c0392b"))
        fig["data"].append(_trace("in flight", in_flight, color="#7f8c8d", dash="dot"))
    if metric:
        fig["data"].append(_trace("visible (AWS/SQS metric, max per minute)", metric, color="#2e86c1", dash="dash",
                                  shape="linear"))
    return {"grids": {}, "charts": [{"id": "dlq-depth", "title": "Depth (messages)", "figure": fig}], "empty": None}
