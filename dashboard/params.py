"""Every query and form value the pages and the API read, cleaned in one place at the edge.

A value that cannot be what its parameter means (a NUL or another control character, 10 kB
where a region name goes, a word where a number goes, a range we do not offer, an end before
its start) raises ``ParamError`` naming the parameter. The API answers it with a JSON 400; a
page drops the value, renders as its defaults give it with a notice, and answers 400
(``page_view``); an htmx fragment answers a short 400 (``fragment_view``). Nothing unchecked
reaches a query: Postgres refuses text holding NUL, and that refusal used to be a 500.

``EdgeMiddleware`` is the net under all of it: a NUL or control character in any form value,
or in a query value of a route that does not clean its own (the admin's, and routes added
later), is a 400 before the view runs. The POST forms (dashboard/forms.py) bound their own values with Django's fields.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import wraps
from typing import Iterable, Mapping

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ops.selectors.fleet import DEFAULT_SORT, SORTS
from ops.selectors.inventory import FunctionFilters
from ops.selectors.timerange import RANGES, TimeRange, parse_instant

# C0 and C1 control characters and DEL. A query value is one line, so tab and newline count too.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# In a form body a textarea may hold line breaks; NUL and the other controls still may not.
_FORM_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[+-]?[0-9]{1,15}")  # ASCII only: int() also takes "1_000" and "١٢"
MAX_PAGE = 100_000
MAX_PER_PAGE = 500
# Instants outside these years are typos or probes, and datetime arithmetic near year 1 or
# 9999 overflows.
MIN_YEAR, MAX_YEAR = 1970, 2200


class ParamError(ValueError):
    """A query or form value that is not acceptable; the message names the parameter."""

    def __init__(self, name: str, message: str, *, drop: tuple[str, ...] = ()):
        self.name = name
        self.message = message
        # What a page drops to recover: the parameter itself, or (when the fault is one that
        # is missing) the ones that asked for it.
        self.drop = drop or (name,)
        super().__init__(f"{name}: {message}")


def _describe(name: str) -> str:
    # Parameter names come from the client too: never echo one that is itself hostile.
    return name if len(name) <= 40 and not _CONTROL.search(name) else "a parameter name"


def text(params: Mapping, name: str, *, max_length: int = 128, default: str = "") -> str:
    """A one-line text value, stripped; absent or blank → default."""
    raw = params.get(name)
    if raw is None:
        return default
    if _CONTROL.search(raw):
        raise ParamError(name, "must not contain NUL or control characters")
    raw = raw.strip()
    if len(raw) > max_length:
        raise ParamError(name, f"is {len(raw):,} characters long; at most {max_length} are accepted")
    return raw or default


def integer(params: Mapping, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = text(params, name, max_length=20)
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw):
        raise ParamError(name, "must be a whole number")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ParamError(name, f"must be between {minimum:,} and {maximum:,}")
    return value


def choice(params: Mapping, name: str, choices: Iterable[str], *, default: str) -> str:
    choices = list(choices)
    raw = text(params, name, max_length=64)
    if not raw:
        return default
    if raw not in choices:
        raise ParamError(name, "must be one of " + ", ".join(choices))
    return raw


def instant(params: Mapping, name: str) -> datetime | None:
    """ISO 8601 (UTC unless it says otherwise) or epoch milliseconds; absent → None."""
    raw = text(params, name, max_length=40)
    if not raw:
        return None
    value = parse_instant(raw)
    if value is None:
        raise ParamError(name, "must be an ISO 8601 time (2026-11-23T14:00:00Z) or epoch milliseconds")
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = value.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ParamError(name, f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def time_range(params: Mapping, *, default: str, now: datetime | None = None) -> TimeRange:
    """``range=6h`` (a preset), or ``range=custom&start=…&end=…`` (``start``/``end`` alone imply
    custom); a preset ignores start and end, as the range links do."""
    key = choice(params, "range", [*RANGES, "custom"], default="")
    if key in RANGES:
        return TimeRange.preset(key, now=now)
    start, end = instant(params, "start"), instant(params, "end")
    if key == "" and start is None and end is None:
        return TimeRange.preset(default, now=now)
    given = ("range", "start", "end")
    if start is None:
        raise ParamError("start", "is required: a custom range needs both start and end", drop=given)
    if end is None:
        raise ParamError("end", "is required: a custom range needs both start and end", drop=given)
    if end <= start:
        raise ParamError("end", "must be after start", drop=given)
    return TimeRange.custom(start, end, now=now)


def function_filters(params: Mapping) -> FunctionFilters:
    return FunctionFilters(
        q=text(params, "q", max_length=128),
        account=text(params, "account", max_length=64),
        region=text(params, "region", max_length=32),
        runtime=text(params, "runtime", max_length=32),
        tag=text(params, "tag", max_length=256),
        include_gone=choice(params, "gone", ["0", "1"], default="0") == "1",
    )


def fleet_sort(params: Mapping) -> str:
    keys = [k for key in SORTS for k in (key, f"-{key}")]
    return choice(params, "sort", keys, default=DEFAULT_SORT)


def page(params: Mapping) -> int:
    return integer(params, "page", default=1, minimum=1, maximum=MAX_PAGE)


def per_page(params: Mapping, *, default: int) -> int:
    return integer(params, "per_page", default=default, minimum=1, maximum=MAX_PER_PAGE)


def page_view(view):
    """A page whose bad parameter is dropped: the page renders without it, says which value it
    refused and why, and answers 400 (a link with a typo still shows something useful)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        refused: list[ParamError] = []
        # Each pass drops one bad parameter; a request has finitely many.
        for _ in range(len(request.GET) + 1):
            try:
                response = view(request, *args, **kwargs)
            except ParamError as err:
                present = [name for name in err.drop if name in request.GET]
                if not present:
                    raise
                refused.append(err)
                query = request.GET.copy()
                for name in present:
                    del query[name]
                request.GET = query
                messages.warning(request, f"Ignored {_describe(err.name)}: {err.message}.")
                continue
            if refused:
                response.status_code = 400
            return response
        raise refused[-1]

    return cleans_query(wrapper)


def fragment_view(view):
    """An htmx fragment: a bad parameter is a short plain-text 400 (htmx leaves the page as it was)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ParamError as err:
            return HttpResponse(f"{_describe(err.name)}: {err.message}", status=400, content_type="text/plain")

    return cleans_query(wrapper)


def _values_refused(data, pattern: re.Pattern) -> str | None:
    """The name of the first parameter whose name or any value holds a refused character."""
    for name, values in data.lists():
        if pattern.search(name) or any(pattern.search(v) for v in values if isinstance(v, str)):
            return name
    return None


def cleans_query(view):
    """Mark a view that cleans its own query values through this module, so the middleware
    leaves them to it (the page then shows its notice, the API its JSON 400)."""
    view.cleans_query = True
    return view


class EdgeMiddleware:
    """NUL or control characters in a query value (of a view that does not clean its own) or in
    any form value: 400 before the view, and so any query, runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        bad = None
        if not getattr(view_func, "cleans_query", False):
            bad = _values_refused(request.GET, _CONTROL)
        if bad is None and request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            bad = _values_refused(request.POST, _FORM_CONTROL)
        if bad is None:
            return None
        message = f"{_describe(bad)}: must not contain NUL or control characters"
        if request.path.startswith("/api/"):
            return JsonResponse({"error": message, "param": _describe(bad)}, status=400)
        return render(request, "dashboard/bad_request.html", {"message": message}, status=400)


__all__ = [
    "EdgeMiddleware",
    "ParamError",
    "choice",
    "cleans_query",
    "fleet_sort",
    "fragment_view",
    "function_filters",
    "instant",
    "integer",
    "page",
    "page_view",
    "per_page",
    "text",
    "time_range",
]


# A redrive selection names at most this many messages by id in one link or form.
MAX_MESSAGE_IDS = 1000
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_SIGNATURE = re.compile(r"[0-9a-f]{1,40}")


def message_ids(params: Mapping, name: str = "id") -> tuple[str, ...]:
    """Repeated ``id=…`` values: SQS message ids (letters, digits, ``-_.:``), at most MAX_MESSAGE_IDS."""
    values = params.getlist(name) if hasattr(params, "getlist") else ([params[name]] if name in params else [])
    if len(values) > MAX_MESSAGE_IDS:
        raise ParamError(name, f"names {len(values):,} messages; at most {MAX_MESSAGE_IDS:,} may be chosen by id")
    out = []
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        if not _MESSAGE_ID.fullmatch(raw):
            raise ParamError(name, "must be SQS message ids (letters, digits and - _ . :)")
        out.append(raw)
    return tuple(dict.fromkeys(out))


def error_group(params: Mapping, name: str = "group") -> str:
    """An error group's signature: lower-case hex, at most 40 characters."""
    raw = text(params, name, max_length=40)
    if raw and not _SIGNATURE.fullmatch(raw):
        raise ParamError(name, "must be an error group's signature (hexadecimal)")
    return raw


# --- Traces (dashboard/views/traces.py) ---
MAX_SLOWER_MS = 15 * 60 * 1000  # Lambda's longest timeout


def trace_filters(params: Mapping, *, time_range: TimeRange):
    """The trace list's filters: errors=1, cold=1, slower=<ms>, version=<text>, group=<error group id>."""
    from ops.selectors.traces import TraceFilters

    slower = integer(params, "slower", default=-1, minimum=0, maximum=MAX_SLOWER_MS)
    group = integer(params, "group", default=-1, minimum=1, maximum=2**63 - 1)
    return TraceFilters(
        since=time_range.start,
        until=time_range.end,
        errors_only=choice(params, "errors", ["0", "1"], default="0") == "1",
        cold_only=choice(params, "cold", ["0", "1"], default="0") == "1",
        slower_ms=None if slower < 0 else slower,
        version=text(params, "version", max_length=128),
        group_id=None if group < 0 else group,
    )
