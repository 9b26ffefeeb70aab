"""Traces: a function's trace list, one trace's waterfall with its log lines, the service map."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard import params as clean
from dashboard.views.overview import query_url, range_links
from ops.models import Function
from ops.selectors.telemetry import reads_without_jit
from ops.selectors.traces import service_map, trace_detail, trace_id_valid, trace_list, traces_function

PER_PAGE = 50


def _function_or_404(pk: int) -> Function:
    fn = traces_function(pk=pk)
    if fn is None:
        raise Http404("No such function")
    return fn


def filter_query(filters) -> dict[str, str]:
    """The filters as URL parameters (links keep them)."""
    out = {}
    if filters.errors_only:
        out["errors"] = "1"
    if filters.cold_only:
        out["cold"] = "1"
    if filters.slower_ms is not None:
        out["slower"] = str(filters.slower_ms)
    if filters.version:
        out["version"] = filters.version
    if filters.group_id is not None:
        out["group"] = str(filters.group_id)
    return out


@clean.page_view
@reads_without_jit()
def function_traces(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    time_range = clean.time_range(request.GET, default="6h")
    filters = clean.trace_filters(request.GET, time_range=time_range)
    page = clean.page(request.GET)
    result = trace_list(function=fn, filters=filters, per_page=PER_PAGE, page=page)
    fq = filter_query(filters)
    params = {**time_range.as_query(), **fq}
    return render(request, "dashboard/traces/list.html", {
        "fn": fn,
        "time_range": time_range,
        "range_links": range_links(time_range, params),
        "params": params,
        "filters": filters,
        "result": result,
        "slow_ms": settings.TRACES_SLOW_MS,
        "prev_url": query_url(params, page=page - 1) if page > 1 else "",
        "next_url": query_url(params, page=page + 1) if result.has_more else "",
        "clear_url": query_url(time_range.as_query()),
        "map_url": reverse("service-map", args=[fn.pk]) + query_url(time_range.as_query()),
    })


@clean.page_view
def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    if not trace_id_valid(trace_id):
        raise Http404("Not an X-Ray trace id")
    detail = trace_detail(trace_id=trace_id)
    if detail is None:
        raise Http404("No such trace stored")
    fn = detail.trace.function
    return render(request, "dashboard/traces/trace.html", {
        "fn": fn,
        "detail": detail,
        "t": detail.trace,
        "traces_url": reverse("traces", args=[fn.pk]),
    })


@clean.page_view
@reads_without_jit()
def function_service_map(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    time_range = clean.time_range(request.GET, default="6h")
    smap = service_map(function=fn, since=time_range.start, until=time_range.end)
    params = time_range.as_query()
    return render(request, "dashboard/traces/map.html", {
        "fn": fn,
        "time_range": time_range,
        "range_links": range_links(time_range, params),
        "params": params,
        "smap": smap,
        "traces_url": reverse("traces", args=[fn.pk]) + query_url(params),
    })
