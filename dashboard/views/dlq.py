"""The DLQ pages: the list, a queue (depth chart, error groups, searchable messages, jobs), and
one message. Thin: clean the parameters, call ops.selectors.dlq, render.

The actions on a queue (redrive, delete, purge: dashboard/views/redrive.py) have their own
confirm pages; these pages link to them, for operators only, with the selection in the link.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard import params as clean
from dashboard.charts.dlq import dlq_depth_chart
from dashboard.views.overview import range_links
from ops.selectors.dlq import (
    Criteria,
    CriteriaError,
    dlq_detail,
    dlq_groups,
    dlq_list,
    dlq_message,
    dlq_messages_page,
    dlq_queue,
)
from ops.selectors.dlq_search import json_path_parse
from ops.selectors.jobs import jobs_for_target

PER_PAGE = 50
_SIGNATURE_CHARS = "0123456789abcdef"


def _action_url(name: str, queue_pk: int, query: dict | None = None) -> str:
    """An action's confirm page for this queue (dashboard/views/redrive.py), its selection in
    the query string as that page reads it: group, since, until, q (text), json_path, id."""
    return reverse(name, args=[queue_pk]) + (f"?{urlencode(query, doseq=True)}" if query else "")


def _queue_or_404(pk: int):
    queue = dlq_queue(pk=pk)
    if queue is None:
        raise Http404("No such dead-letter queue")
    return queue


@clean.page_view
def dlq_list_view(request: HttpRequest) -> HttpResponse:
    q = clean.text(request.GET, "q", max_length=80)
    rows = dlq_list(q=q)
    return render(request, "dashboard/dlqs.html", {"rows": rows, "q": q, "on_fire": sum(r.on_fire for r in rows)})


def _criteria(params) -> Criteria:
    group = clean.text(params, "group", max_length=40)
    if group and (len(group) != 40 or set(group) - set(_SIGNATURE_CHARS)):
        raise clean.ParamError("group", "must be a group signature (40 hexadecimal characters)")
    raw_path = clean.text(params, "json_path", max_length=300)
    try:
        path = json_path_parse(raw_path)
    except CriteriaError as err:
        raise clean.ParamError("json_path", str(err)) from None
    since, until = clean.instant(params, "since"), clean.instant(params, "until")
    if since and until and until <= since:
        raise clean.ParamError("until", "must be after since", drop=("since", "until"))
    show = clean.choice(params, "show", ["present", "all"], default="present")
    return Criteria(text=clean.text(params, "text", max_length=200), json_path=path, group=group, since=since,
                    until=until, present_only=show == "present")


@clean.page_view
def dlq_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _queue_or_404(pk)
    time_range = clean.time_range(request.GET, default="24h")
    criteria = _criteria(request.GET)
    page = clean.page(request.GET)
    detail = dlq_detail(queue=queue, since=time_range.start, until=time_range.end)
    messages_page = dlq_messages_page(queue=queue, criteria=criteria, page=page, per_page=PER_PAGE)
    groups = dlq_groups(queue=queue, criteria=Criteria(since=criteria.since, until=criteria.until,
                                                        present_only=criteria.present_only))
    params = time_range.as_query()
    search = {k: v for k, v in {
        "text": criteria.text, "json_path": criteria.json_path.expression if criteria.json_path else "",
        "group": criteria.group, "since": request.GET.get("since", "") if criteria.since else "",
        "until": request.GET.get("until", "") if criteria.until else "",
        "show": "" if criteria.present_only else "all",
    }.items() if v}
    window = {k: search[k] for k in ("since", "until") if k in search}
    for g in groups:
        g.link = "?" + urlencode({**params, **{k: v for k, v in search.items() if k in ("since", "until", "show")},
                                  "group": g.signature})
        g.redrive_link = _action_url("dlq-redrive", queue.pk, {**window, "group": g.signature})
    chart = dlq_depth_chart(chart=detail.chart, time_range=time_range)
    context = {
        "queue": queue,
        "detail": detail,
        "row": detail.row,
        "time_range": time_range,
        "range_links": range_links(time_range, {**params, **search}),
        "params": {**params, **search},
        "criteria": criteria,
        "json_path_raw": request.GET.get("json_path", "") if criteria.json_path else "",
        "search": search,
        "page": messages_page,
        "page_prev": "?" + urlencode({**params, **search, "page": page - 1}) if page > 1 else "",
        "page_next": "?" + urlencode({**params, **search, "page": page + 1}) if messages_page.has_next else "",
        "groups": groups,
        "charts": chart,
        "jobs": jobs_for_target(account_id=queue.account_id, region=queue.region, resource_arn=queue.arn),
        "redrive_all_link": _action_url("dlq-redrive", queue.pk),
        "redrive_these_link": _action_url("dlq-redrive", queue.pk, {**window, **_redrive_search(search)}),
        "delete_these_link": _action_url("dlq-delete", queue.pk, {**window, **_redrive_search(search)}),
        "purge_link": _action_url("dlq-purge", queue.pk),
        "message_query": urlencode({**params, **search}),
        "peek_hold_s": f"{settings.DLQ_PEEK_HOLD_SECONDS:g}",
    }
    return render(request, "dashboard/dlq.html", context)


def _redrive_search(search: dict) -> dict:
    """The page's search as the action pages name it (its text is ``q`` there)."""
    out = {k: v for k, v in search.items() if k in ("json_path", "group")}
    if search.get("text"):
        out["q"] = search["text"]
    return out


@clean.page_view
def dlq_message_view(request: HttpRequest, pk: int, msg: int) -> HttpResponse:
    queue = _queue_or_404(pk)
    message = dlq_message(queue=queue, pk=msg)
    if message is None:
        raise Http404("No such message in this queue")
    pretty = ""
    if message.body_json is not None:
        pretty = json.dumps(message.body_json, indent=2, ensure_ascii=False, sort_keys=False)
    body = bytes(message.body)
    context = {
        "queue": queue,
        "m": message,
        "pretty": pretty,
        "raw": message.body_text,
        "is_utf8": _utf8(body),
        "has_nul": b"\x00" in body,
        "attributes": sorted(message.attributes.items()),
        "message_attributes": sorted(message.message_attributes.items()),
        "redrive_link": _action_url("dlq-redrive", queue.pk, {"id": message.message_id}),
        "delete_link": _action_url("dlq-delete", queue.pk, {"id": message.message_id}),
        "back": reverse("dlq", args=[queue.pk]),
    }
    return render(request, "dashboard/dlq_message.html", context)


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
