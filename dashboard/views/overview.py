"""Fleet overview: what is on fire, region headroom, and every function's numbers for a range."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import params as clean
from dashboard.charts import sparkline
from ops.selectors.fleet import DEFAULT_SORT, PAGE_SIZE, fleet_page
from ops.selectors.headroom import metrics_poll_state, region_headroom
from ops.selectors.inventory import function_filter_choices, functions_known
from ops.selectors.telemetry import reads_without_jit
from ops.selectors.timerange import RANGES, TimeRange

# (sort key, column title, unit hint); the first click on a numeric column sorts worst first.
COLUMNS = [
    ("name", "function", ""),
    ("invocations", "invocations", "count in range"),
    ("error_rate", "errors", "% of invocations"),
    ("throttles", "throttles", "count in range"),
    ("p99_pct", "p99 / timeout", "max of 1-min p99 in range"),
    ("cold_pct", "cold", "% of REPORT lines"),
    ("concurrency", "peak conc.", "max concurrent executions / limit"),
    ("dlq", "DLQ", "messages now"),
    ("cost", "cost", "USD in range"),
]


def query_url(params: dict, **changes) -> str:
    merged = {k: v for k, v in ({**params, **changes}).items() if v not in (None, "")}
    return "?" + urlencode(merged)


def range_links(time_range: TimeRange, params: dict) -> list[dict]:
    keep = {k: v for k, v in params.items() if k not in ("range", "start", "end", "page")}
    return [
        {"key": key, "url": query_url(keep, range=key), "active": time_range.key == key} for key in RANGES
    ]


@clean.page_view
@reads_without_jit()
def overview(request: HttpRequest) -> HttpResponse:
    time_range = clean.time_range(request.GET, default="24h")
    filters = clean.function_filters(request.GET)
    sort = clean.fleet_sort(request.GET)
    fleet = fleet_page(
        time_range=time_range, filters=filters, sort=sort, page=clean.page(request.GET), per_page=PAGE_SIZE
    )
    params = {**time_range.as_query(), **filters.as_query(), "sort": sort}
    headers = []
    for key, title, unit in COLUMNS:
        active = sort.lstrip("-") == key
        desc = sort.startswith("-")
        if active:
            next_sort = key if desc else f"-{key}"
        else:
            next_sort = key if key == "name" else f"-{key}"
        headers.append(
            {
                "key": key,
                "title": title,
                "unit": unit,
                "url": query_url(params, sort=next_sort, page=None),
                "active": active,
                "arrow": ("▼" if desc else "▲") if active else "",
                "num": key != "name",
            }
        )
    for row in fleet.rows:
        row.spark = sparkline(row.trend)
    context = {
        "time_range": time_range,
        "range_links": range_links(time_range, params),
        "filters": filters,
        "choices": function_filter_choices(),
        "fleet": fleet,
        "headers": headers,
        "params": params,
        "prev_url": query_url(params, page=fleet.page - 1) if fleet.has_previous else "",
        "next_url": query_url(params, page=fleet.page + 1) if fleet.has_next else "",
        "headroom": region_headroom(time_range=time_range),
        "poll": metrics_poll_state(),
        "has_functions": fleet.total > 0 or functions_known(),
        "default_sort": DEFAULT_SORT,
    }
    return render(request, "dashboard/overview.html", context)
