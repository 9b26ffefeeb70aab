"""The trace list, the waterfall and the service map pages: what they say, bounds, 404s, query counts."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.pollers.traces.parse import trace_parse
from ops.pollers.traces.store import trace_store
from tests.factories import LogLineFactory
from tests.ops.pollers.traces.builders import huge_trace, known_trace

pytestmark = pytest.mark.django_db
TRACE_QUERIES = 7  # session, user, 2 role lookups (nav); the trace with its function, its segments, its log lines
LIST_QUERIES = 9  # session, user, 2 role lookups (nav), SAVEPOINT + SET LOCAL jit + RELEASE; the function, the list


def text(resp) -> str:
    html = re.sub(r"<script.*?</script>", " ", resp.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">").replace("&#x27;", "'")


def _store(fn, docs, tid, *, max_nodes=5000):
    parsed, refused = trace_parse(tid, [(d["id"], json.dumps(d)) for d in docs], max_nodes=max_nodes)
    assert trace_store(parsed=parsed, function=fn, fetched_at=timezone.now()) is None
    return parsed


@pytest.fixture
def stored(estate):
    fn = estate.bad
    start = time.time() - 600
    tid, docs, rows = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=start, n=1)
    _store(fn, docs, tid)
    ok_tid, ok_docs, _ = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=start + 60, n=2)
    for d in ok_docs:  # a warm, healthy one
        d.pop("fault", None)
        d["http"] = {"response": {"status": 200}}
        for s in d.get("subsegments", []):
            s.pop("fault", None)
            s.pop("cause", None)
            for c in s.get("subsegments", []):
                c.pop("fault", None)
                c.get("http", {}).pop("response", None)
        d["subsegments"] = [s for s in d.get("subsegments", []) if s["name"] != "Initialization"]
        d.get("annotations", {}).update(cold_start=False)
    _store(fn, ok_docs, ok_tid)
    LogLineFactory(function=fn, group=estate.group, request_id="req-0001",
                   ts=timezone.now() - timedelta(seconds=600), message="[ERROR] UpstreamError: stripe answered 502")
    return fn, tid, ok_tid, rows


def test_the_waterfall_shows_rows_in_order_with_durations_exceptions_and_log_lines(client_in, stored, django_assert_num_queries):
    fn, tid, _ok, rows = stored
    with django_assert_num_queries(TRACE_QUERIES):
        resp = client_in.get(reverse("trace", args=[tid]))
    assert resp.status_code == 200
    html = resp.content.decode()
    got = re.findall(r'data-name="([^"]+)" data-depth="(\d+)" data-offset-ms="([\d.]+)" data-duration-ms="([\d.]*)"', html)
    assert [(n, int(d), round(float(o), 1), round(float(w), 1)) for n, d, o, w in got] == [
        (n, d, round(o, 1), round(w, 1)) for n, d, o, w in rows
    ]
    # bars are SVG attributes laid out on the server (no inline style): Invocation at 121 of 500 ms
    assert re.search(r'<rect x="242\.0" y="2" width="600\.0" height="10" class="bar-fault">', html)
    assert "style=" not in html
    t = text(resp)
    assert "UpstreamError: stripe answered 502" in t and "/var/task/pay.py:31 in charge" in t
    assert "init 120.0 ms" in t and "annotation team pay" in t
    assert "[ERROR] UpstreamError: stripe answered 502" in t  # the request's log line beside it


@pytest.mark.parametrize("bad", ["x", "1-zzzzzzzz-000000000000000000000000", "1-00000000-0000", "1-00000000-000000000000000000000000"])
def test_a_trace_id_that_is_garbage_or_unknown_is_a_404(client_in, estate, bad):
    assert client_in.get(f"/traces/{bad}").status_code == 404


def test_the_trace_list_puts_errors_first_and_filters(client_in, stored, django_assert_num_queries):
    fn, tid, ok_tid, _ = stored
    url = reverse("traces", args=[fn.pk])
    with django_assert_num_queries(LIST_QUERIES):
        resp = client_in.get(url + "?range=1h")
    assert resp.status_code == 200
    order = re.findall(r'data-status="(\w+)" data-trace="([^"]+)"', resp.content.decode())
    assert order == [("fault", tid), ("ok", ok_tid)]
    t = text(resp)
    assert "cold (120 ms)" in t and "v7" in t and "502" in t
    only = re.findall(r'data-trace="([^"]+)"', client_in.get(url + "?range=1h&errors=1").content.decode())
    assert only == [tid]
    assert re.findall(r'data-trace="([^"]+)"', client_in.get(url + "?range=1h&cold=1").content.decode()) == [tid]
    assert re.findall(r'data-trace="([^"]+)"', client_in.get(url + "?range=1h&slower=600").content.decode()) == []
    assert re.findall(r'data-trace="([^"]+)"', client_in.get(url + "?range=1h&version=8").content.decode()) == []
    assert client_in.get(url + "?range=1h&group=0").status_code == 400  # not an id: refused, named


def test_an_error_group_links_to_the_traces_of_its_requests(client_in, stored, estate):
    fn, tid, _ok, _ = stored
    page = client_in.get(reverse("function", args=[fn.pk]) + "?range=6h").content.decode()
    link = re.search(rf'href="(/functions/{fn.pk}/traces\?[^"]*group={estate.group.pk})"', page)
    assert link
    resp = client_in.get(link.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-trace="([^"]+)"', resp.content.decode()) == [tid]


def test_the_function_page_lists_its_worst_traces(client_in, stored):
    fn, tid, ok_tid, _ = stored
    resp = client_in.get(reverse("function", args=[fn.pk]) + "?range=6h")
    order = re.findall(r'data-status="(\w+)" data-trace="([^"]+)"', resp.content.decode())
    assert order == [("fault", tid), ("ok", ok_tid)]


def test_the_function_page_says_why_there_are_no_traces(client_in, estate):
    t = text(client_in.get(reverse("function", args=[estate.ok.pk]) + "?range=6h"))
    assert "X-Ray traces not polled yet for prod / us-east-1" in t


def test_a_minute_links_to_its_traces(client_in, stored):
    fn = stored[0]
    ts = (timezone.now() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    resp = client_in.get(reverse("function-minute", args=[fn.pk]) + f"?ts={int(ts.timestamp() * 1000)}")
    link = re.search(r'href="([^"]+)" data-minute-traces', resp.content.decode()).group(1).replace("&amp;", "&")
    assert link == f"/functions/{fn.pk}/traces?range=custom&start={int(ts.timestamp())}000&end={int(ts.timestamp()) + 60}000"
    assert client_in.get(link).status_code == 200


def test_the_service_map_counts_edges(client_in, stored):
    fn = stored[0]
    resp = client_in.get(reverse("service-map", args=[fn.pk]) + "?range=1h")
    html = resp.content.decode()
    edges = dict(re.findall(r'<tr data-service="([^"]+)" data-calls="(\d+)"', html))
    assert edges == {"DynamoDB": "2", "api.stripe.com": "2"}
    assert len(re.findall(r'<g class="smap-node"', html)) == 2
    t = text(resp)
    assert "50.0 %" in t  # stripe: one of two calls faulted
    empty = text(client_in.get(reverse("service-map", args=[fn.pk]) + "?range=custom&start=1000&end=2000"))
    assert "No downstream call in the stored traces" in empty


def test_a_huge_trace_renders_capped(client_in, estate, settings):
    settings.TRACE_WATERFALL_ROWS = 100
    fn = estate.bad
    tid, docs = huge_trace(fn_name=fn.name, fn_arn=fn.arn, start=time.time() - 300, subsegments=2000)
    _store(fn, docs, tid)
    resp = client_in.get(reverse("trace", args=[tid]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert html.count('class="wf-row') == 100
    assert "Showing the first 100 of 2,002 rows" in text(resp)
