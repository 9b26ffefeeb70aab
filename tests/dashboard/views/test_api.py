"""The read-only JSON API: auth by session or bearer token, same numbers as the pages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from ops.models.api import ApiToken
from ops.selectors.fleet import fleet_page
from ops.selectors.inventory import FunctionFilters
from ops.selectors.timerange import TimeRange
from ops.services.api_tokens import api_token_create, api_token_revoke

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


def test_createtoken_prints_the_token_once_and_stores_only_its_hash(estate, viewer):
    out, err = StringIO(), StringIO()
    call_command("createtoken", "alice", "--name", "ci", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("lops_")
    stored = ApiToken.objects.get(user=viewer)
    assert stored.name == "ci" and stored.prefix == raw[:12]
    assert not ApiToken.objects.filter(token_hash=raw).exists()


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
