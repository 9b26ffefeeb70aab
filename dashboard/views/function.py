"""The function page, its live-refreshed charts partial, and a chart point's error lines."""

from __future__ import annotations

from datetime import UTC

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard.charts import deploy_link, function_figures
from dashboard.views.overview import range_links
from ops.models import Function
from ops.selectors.function import function_data, last_deploy, minute_lines
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.inventory import function_header
from ops.selectors.jobs import jobs_for_function
from ops.selectors.status import function_behind
from ops.selectors.telemetry import reads_without_jit, step_label
from ops.selectors.timerange import TimeRange, parse_instant


def _function_or_404(pk: int) -> Function:
    try:
        return function_header(pk=pk)
    except Function.DoesNotExist:
        raise Http404("No such function") from None


def _context(request: HttpRequest, fn: Function) -> dict:
    time_range = TimeRange.from_query(request.GET, default="6h")
    fd = function_data(function=fn, time_range=time_range)
    charts = []
    if fd.data is not None:
        charts = function_figures(
            data=fd.data,
            time_range=time_range,
            function=fn,
            deploys=fd.deploys,
            account_limit=account_concurrency_limit(),
            versions=fd.versions,
            minute_url=reverse("function-minute", args=[fn.pk]),
        )
    for d in fd.deploys:
        d.link = deploy_link(function_id=fn.pk, at=d.at)
    params = time_range.as_query()
    return {
        "step_label": step_label(fd.data.step_s) if fd.data is not None else "",
        "fn": fn,
        "fd": fd,
        "behind": function_behind(function=fn, healths=fd.scope_health),
        "time_range": time_range,
        "range_links": range_links(time_range, params),
        "params": params,
        "charts": charts,
        "has_invocations": bool(fd.totals.invocations or fd.totals.errors or fd.totals.throttles),
        "charts_url": reverse("function-charts", args=[fn.pk]),
    }


@reads_without_jit()
def function_detail(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    context = _context(request, fn)
    context["last_deploy"] = last_deploy(function=fn)
    context["jobs"] = jobs_for_function(function=fn, limit=10)
    return render(request, "dashboard/function.html", context)


@reads_without_jit()
def function_charts(request: HttpRequest, pk: int) -> HttpResponse:
    """The charts and summary for a range: what live refresh and zoom swap in."""
    fn = _function_or_404(pk)
    return render(request, "dashboard/partials/_function_body.html", _context(request, fn))


def function_minute(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    start = parse_instant(request.GET.get("ts"))
    if start is None:
        return HttpResponse("ts is required (ISO 8601 UTC or epoch milliseconds)", status=400)
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    try:
        seconds = int(request.GET.get("step") or 60)
    except ValueError:
        seconds = 60
    detail = minute_lines(function=fn, start=start, seconds=seconds)
    return render(request, "dashboard/partials/_minute.html", {"fn": fn, "detail": detail})

