"""The overview and function pages: what they say, empty states, pinned query counts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from ops.models import PollStatus
from tests.factories import FunctionFactory, LogLineFactory, PollStatusFactory, function_series, minutes

pytestmark = pytest.mark.django_db

# session + user + 2 permission lookups (nav role) are part of every page; SAVEPOINT,
# SET LOCAL jit = off and RELEASE wrap the reads (see telemetry.reads_without_jit)
OVERVIEW_QUERIES = 18
FUNCTION_QUERIES = 31  # 21 for the telemetry, inventory and right-sizing (its OOM errors), 3 for the now state (DLQs, minutes, deploys), 1 for jobs, 1 for CloudTrail changes, 1 for the DLQ panel, 2 for "Deploys & actions" (alias moves, event sources for the buttons), 1 for the trace list, 1 for the open incident banner


def text(resp) -> str:
    html = re.sub(r"<script.*?</script>", " ", resp.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">").replace("&#x27;", "'")


def test_pages_need_a_login(client, estate):
    assert client.get("/").status_code == 302
    assert client.get(reverse("function", args=[estate.bad.pk])).status_code == 302


def test_overview_shows_fire_headroom_and_the_table(client_in, estate):
    resp = client_in.get("/?range=6h")
    assert resp.status_code == 200
    t = text(resp)
    assert "On fire (2)" in t
    # the now window's reason (its last 5 minutes), not the range's 6.7 %
    assert "error rate 80.0 % (400 errors)" in t and "since" in t and "after live → v43" in t
    assert "data as of" in t and "chronic" not in t
    assert "612 / 1,000" in t
    assert "payments-api" in t and "840 ms / 6 s" in t and "380" in t
    assert 'aria-current="true" data-range="6h"' in resp.content.decode()


def test_overview_sort_links_keep_range_and_filters(client_in, estate):
    resp = client_in.get("/?range=24h&q=pay&sort=name")
    html = resp.content.decode()
    assert 'href="?range=24h&amp;q=pay&amp;sort=-error_rate" data-sort="error_rate"' in html
    assert 'href="?range=24h&amp;q=pay&amp;sort=-name" data-sort="name"' in html


def test_overview_query_count_does_not_grow_with_functions(client_in, estate, django_assert_num_queries):
    with django_assert_num_queries(OVERVIEW_QUERIES):
        client_in.get("/?range=24h")
    for i in range(40):
        f = FunctionFactory(account=estate.account, name=f"extra-{i:02d}")
        minutes(function_series(f), start=estate.now - timedelta(hours=2), count=3, invocations=5, errors=1)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        resp = client_in.get("/?range=24h")
    assert "of 43" in text(resp)


def test_overview_says_when_metrics_were_never_polled(client_in, estate):
    PollStatus.objects.filter(source="metrics").update(last_success_at=None)
    assert "Metrics not polled yet" in text(client_in.get("/"))


def test_overview_shows_access_denied_with_the_aws_code(client_in, estate):
    PollStatus.objects.filter(source="metrics").update(
        last_error_at=estate.now, last_success_at=estate.now - timedelta(hours=1), last_error_code="AccessDenied",
        last_error_message="not authorized to perform: cloudwatch:GetMetricData",
    )
    t = text(client_in.get("/"))
    assert "AccessDenied polling metrics for prod (123456789012) / us-east-1" in t


def test_overview_without_functions(client_in, db):
    assert "No functions yet" in text(client_in.get("/"))


def test_function_page_header_summary_and_panels(client_in, estate):
    resp = client_in.get(reverse("function", args=[estate.bad.pk]) + "?range=6h")
    assert resp.status_code == 200
    t = text(resp)
    assert "acct prod (123456789012)" in t and "timeout 6 s" in t and "AWS console ↗" in t
    assert "live → v43 (90 %) + v42 (10 %)" in t
    assert "errors began" in t and "min after live → v43" in t
    assert "v43 76.2 %" in t and "v42 0.0 %" in t
    assert "top error KeyError: 'id' ×2,400" in t
    assert "max 310 MB used of 1024 MB over 7 d → 512 MB saves $" in t
    assert "payments-dlq" in t


def payload_of(html: str) -> dict:
    scripts = re.findall(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert len(scripts) == 1  # one payload for every chart of the page
    return json.loads(scripts[0])


def test_function_page_emits_every_figure_in_one_json_payload(client_in, estate):
    resp = client_in.get(reverse("function", args=[estate.bad.pk]) + "?range=6h")
    html = resp.content.decode()
    payload = payload_of(html)
    ids = [c["id"] for c in payload["charts"]]
    assert ids[:5] == ["invocations", "error-rate", "duration", "cold-starts", "concurrency"]
    assert "version-error-rate" in ids
    assert re.findall(r'<div class="chart" id="chart-([a-z0-9-]+)" data-chart="\d+">', html) == ids
    fig = payload["charts"][0]["figure"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "count per minute"
    assert payload["grids"]["line"]["n"] == 360 and len(fig["data"][0]["y"]) == 360  # 6 h of minutes fit
    assert any(a["text"].startswith("live → v43") for a in fig["layout"]["annotations"])
    # Collected names carry a content hash (far-future caching), e.g. /static/js/charts.a153c711016a.js.
    assert re.search(r'src="/static/js/charts\.[0-9a-f]{12}\.js"', html)
    assert re.search(r'src="/static/vendor/plotly-basic\.min\.[0-9a-f]{12}\.js"', html)
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in html


def test_an_idle_function_shows_one_empty_state_instead_of_charts(client_in, estate):
    idle = FunctionFactory(account=estate.account, name="idle-fn", last_invoked_at=estate.now - timedelta(days=2))
    minutes(function_series(idle), start=estate.now - timedelta(days=2), count=3, invocations=4)
    html = client_in.get(reverse("function", args=[idle.pk]) + "?range=24h").content.decode()
    assert 'data-state="idle"' in html and "chart-data" not in html and 'class="chart"' not in html
    when = (estate.now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    assert f"No invocations in the last 24 h; last invoked {when} UTC." in html


def test_function_page_query_count_is_fixed(client_in, estate, django_assert_num_queries):
    url = reverse("function", args=[estate.bad.pk])
    with django_assert_num_queries(FUNCTION_QUERIES):
        client_in.get(url + "?range=7d")
    for v in range(44, 50):  # more versions, more history: same number of queries
        minutes(function_series(estate.bad, kind="version", qualifier=str(v)), start=estate.now - timedelta(hours=1),
                count=5, invocations=1)
    with django_assert_num_queries(FUNCTION_QUERIES):
        client_in.get(url + "?range=7d")


def test_function_page_not_polled_and_no_invocations(client_in, estate):
    fresh = FunctionFactory(account=estate.account, name="new-fn")
    assert "No invocations in the last 6 h" in text(client_in.get(reverse("function", args=[fresh.pk])))
    other = FunctionFactory(region="eu-west-1", name="elsewhere")
    assert "Not polled yet: no successful CloudWatch metrics poll" in text(client_in.get(reverse("function", args=[other.pk])))


def test_function_page_access_denied(client_in, estate):
    PollStatusFactory(account=estate.account, source="logs", last_success_at=None, last_error_at=estate.now,
                      last_error_code="AccessDeniedException", last_error_message="logs:StartQuery denied")
    t = text(client_in.get(reverse("function", args=[estate.bad.pk])))
    assert "AccessDeniedException polling logs for account prod (123456789012) / us-east-1" in t


def test_function_404(client_in, db):
    assert client_in.get(reverse("function", args=[999999])).status_code == 404


def test_charts_partial_and_custom_range(client_in, estate):
    start = (estate.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = estate.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = client_in.get(reverse("function-charts", args=[estate.bad.pk]), {"range": "custom", "start": start, "end": end})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "<html" not in html and 'id="chart-invocations"' in html and payload_of(html)["charts"]
    assert 'data-range-key="custom"' in html


def test_minute_partial_lists_that_minutes_lines(client_in, estate):
    ts = (estate.now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    LogLineFactory(function=estate.bad, ts=ts - timedelta(minutes=5), message="older line")
    resp = client_in.get(reverse("function-minute", args=[estate.bad.pk]), {"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ")})
    t = text(resp)
    assert "KeyError: 'id' in handler" in t and "older line" not in t
    wide = client_in.get(reverse("function-minute", args=[estate.bad.pk]),
                         {"ts": (ts - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), "step": "600"})
    assert "older line" in text(wide) and "in handler" in text(wide)
    assert client_in.get(reverse("function-minute", args=[estate.bad.pk])).status_code == 400


def test_function_page_lists_cloudtrail_changes_with_actor_and_tool(client_in, estate):
    from tests.factories import ChangeFactory

    ChangeFactory(function=estate.bad, at=estate.now - timedelta(minutes=20))
    ChangeFactory(function=estate.ok, at=estate.now - timedelta(minutes=10), summary="memory 512 MB → 1024 MB")
    t = text(client_in.get(reverse("function", args=[estate.bad.pk]) + "?range=1h"))
    assert "reserved concurrency 200 → 1 role/oncall-admin console PutFunctionConcurrency" in t
    assert "memory 512 MB" not in t  # another function's change
    t = text(client_in.get(reverse("function", args=[estate.ok.pk]) + "?range=1h"))
    assert "memory 512 MB → 1024 MB" in t
    t = text(client_in.get(reverse("function", args=[estate.throttled.pk]) + "?range=1h"))
    assert "No change recorded by CloudTrail in the last 1 h." in t
