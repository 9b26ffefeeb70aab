"""The functions list: a thin view over ops.selectors.inventory."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import params as clean
from ops.selectors.inventory import function_filter_choices, function_page, functions_known


@clean.page_view
def function_list(request: HttpRequest) -> HttpResponse:
    filters = clean.function_filters(request.GET)
    page = function_page(filters=filters, page=clean.page(request.GET))
    context = {
        "page": page,
        "filters": filters,
        "choices": function_filter_choices(),
        "query": filters.as_query(),
        "has_any": page.paginator.count > 0 or functions_known(),
    }
    return render(request, "dashboard/functions.html", context)

