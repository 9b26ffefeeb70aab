"""Functions list and function header page: thin views over ops.selectors.inventory."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ops.models import Function
from ops.selectors.inventory import (
    FunctionFilters,
    function_filter_choices,
    function_header,
    function_last_deploy,
    function_page,
    scope_problem,
)


def overview(request: HttpRequest) -> HttpResponse:
    return redirect("functions")


def function_list(request: HttpRequest) -> HttpResponse:
    filters = FunctionFilters.from_query(request.GET)
    page = function_page(filters=filters, page=request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "choices": function_filter_choices(),
        "query": filters.as_query(),
        "has_any": page.paginator.count > 0 or Function.objects.exists(),
    }
    return render(request, "dashboard/functions.html", context)


def function_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        fn = function_header(pk=pk)
    except Function.DoesNotExist:
        raise Http404("No such function") from None
    context = {"fn": fn, "last_deploy": function_last_deploy(function=fn), "problem": scope_problem(function=fn)}
    return render(request, "dashboard/function.html", context)
