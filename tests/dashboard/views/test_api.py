"""The read-only JSON API: auth by session or bearer token, same numbers as the pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ops.selectors.fleet import fleet_page
from ops.selectors.inventory import FunctionFilters
from ops.selectors.timerange import TimeRange
from ops.services.api_tokens import api_token_create, api_token_revoke
from tests.clock import hours_ago, iso_s

LATER, EARLIER = iso_s(hours_ago(3)), iso_s(hours_ago(4))  # computed from now, as every test date

pytestmark = pytest.mark.django_db


def test_api_refuses_anonymous_callers_with_401_not_a_redirect(client, estate):
    resp = client.get(reverse("api-fleet"))
    assert resp.status_code == 401 and resp["WWW-Authenticate"].startswith("Bearer")
    assert client.get(reverse("api-fleet"), HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_token_auth_and_revocation(client, estate, viewer):
    token, raw = api_token_create(user=viewer, name="grafana")
    assert token.token_hash != raw and raw not in token.token_hash and len(token.token_hash) == 64
    ok = client.get(reverse("api-fleet"), {"range": "6h"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ok.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    api_token_revoke(token=token)
    assert client.get(reverse("api-fleet"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_fleet_json_matches_the_selector(client_in, estate):
    body = client_in.get(reverse("api-fleet"), {"range": "6h", "sort": "-error_rate"}).json()
    page = fleet_page(time_range=TimeRange.preset("6h", now=estate.now), filters=FunctionFilters(), sort="-error_rate")
    assert body["total"] == 3 and body["range"]["key"] == "6h"
    first = body["functions"][0]
    assert first["name"] == page.rows[0].name == "payments-api"
    assert first["error_rate_pct"] == pytest.approx(page.rows[0].error_rate)
    assert first["cost_usd"] == pytest.approx(page.rows[0].cost_usd, abs=1e-6)
    assert [f["name"] for f in body["on_fire"]] == ["payments-api", "ingest-stream"]
    assert body["on_fire"][0]["deploy"]["to_version"] == "43"
    assert body["region_headroom"][0]["claimed_peak"] == 612


def test_function_summary_json(client_in, estate):
    body = client_in.get(reverse("api-function", args=[estate.bad.pk]), {"range": "6h"}).json()
    assert body["function"]["name"] == "payments-api"
    assert body["totals"]["errors"] == 2400
    assert body["what_changed"]["deploy"]["to_version"] == "43"
    assert body["what_changed"]["minutes_after_deploy"] == 5
    assert [v["version"] for v in body["versions"]] == ["43", "42"]
    assert body["error_groups"][0]["count_in_range"] == 2400
    assert body["rightsizing"]["suggested_mb"] == 512
    assert client_in.get(reverse("api-function", args=[999999])).status_code == 404


def test_series_json(client_in, estate):
    url = reverse("api-function-series", args=[estate.bad.pk])
    body = client_in.get(url, {"metric": "errors", "range": "6h"}).json()
    assert body["unit"] == "count" and body["aggregation"] == "sum per bucket" and body["step_s"] == 60
    assert sum(v or 0 for _, v in body["points"]) == 2400
    assert len(body["points"]) <= 1500
    p99 = client_in.get(url, {"metric": "duration_p99", "range": "7d"}).json()
    assert p99["aggregation"].startswith("max") and max(v for _, v in p99["points"] if v) == 840.0
    rate = client_in.get(url, {"metric": "error_rate", "range": "1h"}).json()
    assert rate["unit"] == "%" and max(v for _, v in rate["points"] if v is not None) == 80.0
    assert client_in.get(url, {"metric": "nope"}).status_code == 400
    assert client_in.post(url).status_code == 405


API_NAMES = [("api-fleet", False), ("api-function", True), ("api-function-series", True)]


def _api_urls(estate):
    return [reverse(name, args=[estate.bad.pk] if with_pk else []) + "?metric=errors" for name, with_pk in API_NAMES]


def _strict_json(resp):
    """The body parsed as JSON proper: NaN and Infinity are not JSON."""

    def refuse(token):
        raise AssertionError(f"non-JSON number {token} in {resp.request['PATH_INFO']}")

    return json.loads(resp.content, parse_constant=refuse)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_a_bearer_request_of_any_other_method_is_a_json_405_with_allow_never_a_csrf_refusal(estate, viewer, method):
    _, raw = api_token_create(user=viewer)
    client = Client(enforce_csrf_checks=True)
    for url in _api_urls(estate):
        resp = getattr(client, method)(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert resp.status_code == 405, (url, resp.content[:200])
        assert resp["Allow"] == "GET, HEAD" and resp["Content-Type"] == "application/json"
        assert _strict_json(resp) == {"error": f"{method.upper()} is not allowed: the API is read-only (GET, HEAD)"}


def test_session_requests_still_meet_csrf_and_then_the_405(estate, viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    url = reverse("api-fleet")
    refused = client.post(url)
    assert refused.status_code == 403 and "CSRF verification failed" in _strict_json(refused)["error"]
    client.get(reverse("overview"))  # a page hands out the CSRF cookie, as in the browser
    token = client.cookies["csrftoken"].value
    resp = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert resp.status_code == 405 and resp["Allow"] == "GET, HEAD"
    # a bearer header is judged alone: a bad token is a 401 even beside a valid session
    assert client.get(url, HTTP_AUTHORIZATION="Bearer lops_bogus").status_code == 401


def test_head_answers_the_get_headers_without_a_body(estate, viewer):
    _, raw = api_token_create(user=viewer)
    client = Client()
    for url in _api_urls(estate):
        get = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
        head = client.head(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert (get.status_code, head.status_code) == (200, 200)
        assert head.content == b"" and head["Content-Type"] == "application/json"
        assert int(head["Content-Length"]) == len(get.content) > 0


def test_every_api_error_is_json(estate, viewer, monkeypatch):
    _, raw = api_token_create(user=viewer)
    client = Client(raise_request_exception=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    cases = [
        (client.get(reverse("api-fleet"), {"range": "2d"}, **auth), 400, "range: must be one of 1h, 6h, 24h, 7d, 30d, custom"),
        (client.get(reverse("api-fleet"), {"per_page": "5000"}, **auth), 400, "per_page: must be between 1 and 500"),
        (client.get(reverse("api-fleet"), {"q": "a\x00b"}, **auth), 400, "q: must not contain NUL or control characters"),
        (client.get(reverse("api-fleet"), {"range": "custom", "start": LATER, "end": EARLIER},
                    **auth), 400, "end: must be after start"),
        (client.get(reverse("api-fleet")), 401, "authentication required"),
        (client.get(reverse("api-function", args=[999999]), **auth), 404, "no function 999999"),
        (client.get("/api/v1/nope", **auth), 404, "no API endpoint at /api/v1/nope"),
        (client.get("/api/v1/functions/abc", **auth), 404, "no API endpoint at /api/v1/functions/abc"),
        (client.delete(reverse("api-fleet"), **auth), 405, "DELETE is not allowed"),
    ]
    for resp, status, message in cases:
        assert resp.status_code == status and resp["Content-Type"] == "application/json", (status, resp.content[:200])
        assert message in _strict_json(resp)["error"]
    assert _strict_json(cases[0][0])["param"] == "range"

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("dashboard.views.api.fleet_page", broken)
    resp = client.get(reverse("api-fleet"), **auth)
    assert resp.status_code == 500 and resp["Content-Type"] == "application/json"
    assert _strict_json(resp) == {"error": "internal error; it has been logged"}
    # ...while a page's 500 stays Django's HTML page
    monkeypatch.setattr("dashboard.views.overview.fleet_page", broken)
    client.force_login(viewer)
    page = client.get(reverse("overview"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_stored_infinity_and_nan_come_out_as_null_never_as_bare_tokens(client_in, estate):
    from ops.models import MinuteStat
    from tests.factories import function_series

    at = estate.now.replace(second=0, microsecond=0) - timedelta(minutes=20)
    stored = MinuteStat.objects.filter(series=function_series(estate.ok), ts=at).update(
        duration_avg=float("nan"),
        duration_p99=float("inf"),
        duration_max=1e308,
        billed_gb_s=float("inf"),
        billed_duration_sum=float("nan"),
        concurrency_max=float("-inf"),
    )
    assert stored == 1
    pk = estate.ok.pk
    urls = [(reverse("api-fleet"), {"range": rng}) for rng in ("1h", "6h")]
    urls += [(reverse("api-function", args=[pk]), {"range": rng}) for rng in ("1h", "6h")]
    series = reverse("api-function-series", args=[pk])
    metrics = ("invocations", "error_rate", "duration_avg", "duration_p99", "duration_max", "billed_gb_s", "cost",
               "billed_duration_sum", "concurrency_max")
    urls += [(series, {"metric": m, "range": "1h"}) for m in metrics]
    bodies = {}
    for url, params in urls:
        resp = client_in.get(url, params)
        assert resp.status_code == 200, (url, params, resp.content[:300])
        bodies[(url, tuple(params.values()))] = _strict_json(resp)
    points = dict(bodies[(series, ("duration_p99", "1h"))]["points"])
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert points[stamp] is None  # the Infinity stored there
    assert dict(bodies[(series, ("billed_gb_s", "1h"))]["points"])[stamp] is None
    assert dict(bodies[(series, ("duration_max", "1h"))]["points"])[stamp] == 1e308  # finite: kept
    ok_row = next(r for r in bodies[(reverse("api-fleet"), ("1h",))]["functions"] if r["id"] == pk)
    assert ok_row["duration_p99_ms"] is None and ok_row["cost_usd"] is None
    assert ok_row["invocations"] > 0 and ok_row["errors"] == 0  # the finite numbers beside them are untouched
    totals = bodies[(reverse("api-function", args=[pk]), ("1h",))]["totals"]
    assert totals["duration_p99_ms"] is None and totals["cost_usd"] is None


def test_json_encoding_turns_every_non_finite_number_into_null():
    from decimal import Decimal

    from dashboard.views.api_http import json_response

    body = {"a": float("nan"), "b": [float("inf"), (float("-inf"), 1.5)], "c": Decimal("NaN"), "d": Decimal("2.5"), "e": 0}
    assert json.loads(json_response(body).content) == {"a": None, "b": [None, [None, 1.5]], "c": None, "d": "2.5", "e": 0}
