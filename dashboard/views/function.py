"""The function page, its live-refreshed charts partial, and a chart point's error lines."""

from __future__ import annotations

from datetime import UTC

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard import params as clean
from dashboard.charts import deploy_link
from dashboard.charts import function_charts as chart_payload
from dashboard.views.overview import range_links
from ops.models import Function, PollSource
from ops.selectors.dlq import dlq_panel
from ops.selectors.deploys import function_deploys
from ops.selectors.function import function_changes, function_data, last_deploy
from ops.selectors.points import minute_lines
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.incidents import function_open_incident
from ops.selectors.inventory import function_header
from ops.selectors.jobs import jobs_for_function
from ops.selectors.status import function_behind
from ops.selectors.telemetry import reads_without_jit, step_label
from ops.selectors.traces import TraceFilters, trace_list


def _function_or_404(pk: int) -> Function:
    try:
        return function_header(pk=pk)
    except Function.DoesNotExist:
        raise Http404("No such function") from None


def _context(request: HttpRequest, fn: Function) -> dict:
    time_range = clean.time_range(request.GET, default="6h")
    fd = function_data(function=fn, time_range=time_range)
    charts = None
    if fd.data is not None:
        charts = chart_payload(
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
        # Traces panel: the worst few of the range (one query); the poll state comes with fd.
        "function_traces": trace_list(function=fn, filters=TraceFilters(since=time_range.start, until=time_range.end), per_page=10),
        "traces_health": next((h for h in fd.scope_health if h.status.source == PollSource.TRACES), None),
    }


@clean.page_view
@reads_without_jit()
def function_detail(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    context = _context(request, fn)
    context["last_deploy"] = last_deploy(function=fn)
    context["open_incident"] = function_open_incident(function_id=fn.pk)
    context["jobs"] = jobs_for_function(function=fn, limit=10)
    context["changes"] = function_changes(function=fn, time_range=context["time_range"])
    tr = context["time_range"]
    context["dlqs"] = dlq_panel(function=fn, since=tr.start, until=tr.end)
    # Deploys & actions: the timeline and the action buttons (two queries)
    context["deploys"] = function_deploys(function=fn, versions=list(fn.versions.all()), jobs=context["jobs"])
    return render(request, "dashboard/function.html", context)


@clean.fragment_view
@reads_without_jit()
def function_charts(request: HttpRequest, pk: int) -> HttpResponse:
    """The charts and summary for a range: what live refresh and zoom swap in."""
    fn = _function_or_404(pk)
    return render(request, "dashboard/partials/_function_body.html", _context(request, fn))


@clean.fragment_view
def function_minute(request: HttpRequest, pk: int) -> HttpResponse:
    fn = _function_or_404(pk)
    start = clean.instant(request.GET, "ts")
    if start is None:
        raise clean.ParamError("ts", "is required (ISO 8601 UTC or epoch milliseconds)")
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    # any chart bucket size (up to 7 days; minute_lines reads at most a day of it)
    seconds = clean.integer(request.GET, "step", default=60, minimum=60, maximum=7 * 86400)
    detail = minute_lines(function=fn, start=start, seconds=seconds)
    return render(request, "dashboard/partials/_minute.html", {"fn": fn, "detail": detail})

