"""The status page and /healthz tell the truth: degraded under throttling, failing with the
endpoint down, ok again after (real pollers against the sandbox); /healthz's HTTP code per
state; the function page's "data is behind" notice."""

from __future__ import annotations

import re
import socket
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.views import status as status_views
from ops.aws import client as aws_client
from ops.models import PollState, PollStatus
from ops.pollers.health import poll_health
from ops.pollers.metrics import poll as metrics
from ops.selectors.status import health_summary
from ops.services.api_tokens import api_token_create
from sandbox.testing import add_fault, clear_faults
from tests.dashboard.views.test_pages import text
from tests.factories import AccountFactory, FunctionFactory, PollStatusFactory, make_user
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, put_points, run


def _row_state(client, source: str) -> str:
    html = client.get(reverse("status")).content.decode()
    return re.search(rf'<tr data-source="{source}" data-scope="prod/{REGION}" data-state="(\w+)">', html).group(1)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return port


@pytest.mark.django_db(transaction=True)
def test_status_and_healthz_degraded_under_throttling_failing_with_the_endpoint_down_ok_after(
    aws, settings, monkeypatch, client
):
    settings.METRICS_PERCENTILES = []
    settings.CLOUDWATCH_DAILY_BUDGET_USD = 1000.0
    # A 1-second cadence and 2 cycles: "no success for 2 cadences" is reached in seconds.
    settings.METRICS_POLL_SECONDS = 1
    settings.POLL_FAILING_CYCLES = 2
    account = AccountFactory(name="prod", account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    start = now_minute()
    put_points("Invocations", {"FunctionName": "orders"}, {start - timedelta(minutes=3): 5})
    client.force_login(make_user("viewer", username="vera"))

    def poll(minutes_on: int):
        # Each run a minute on (the poller's clock), so every run has a window due and calls AWS.
        at_clock(monkeypatch, metrics, start + timedelta(minutes=minutes_on, seconds=5))
        return run("metrics", account, metrics.metrics_poll)

    assert poll(0).ok
    assert _row_state(client, "metrics") == "ok"
    resp = client.get("/healthz")
    assert (resp.status_code, resp.json()["state"], resp.json()["ok"], resp.json()["problems"]) == (200, "ok", True, [])

    add_fault(aws, service="cloudwatch", operation="GetMetricData", error="Throttling")
    outcome = poll(1)
    assert not outcome.ok and outcome.error_code == "Throttling"
    assert _row_state(client, "metrics") == "degraded"
    assert "last run failed (Throttling); the next run retries" in text(client.get(reverse("status")))
    resp = client.get("/healthz")
    body = resp.json()
    assert (resp.status_code, body["state"], body["ok"]) == (200, "degraded", False)
    assert body["polls"]["metrics"]["degraded"] == 1 and body["polls"]["metrics"]["failing"] == 0
    assert [(p["source"], p["state"], p["last_error_code"]) for p in body["problems"]] == [("metrics", "degraded", "Throttling")]
    clear_faults(aws)

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    aws_client.forget_sessions()
    outcome = poll(2)
    assert not outcome.ok and outcome.error_code == "EndpointConnectionError"
    last_success = PollStatus.objects.get(source="metrics").last_success_at
    # Judged a moment after two 1-second cadences without success, by the clock, not by waiting.
    later = last_success + timedelta(seconds=2, milliseconds=1)
    assert poll_health(PollStatus.objects.get(source="metrics"), now=later).state == "failing"
    assert health_summary(now=later).state == "failing"
    at_clock(monkeypatch, status_views, later)
    assert _row_state(client, "metrics") == "failing"
    t = text(client.get(reverse("status")))
    assert "EndpointConnectionError" in t and "expected every 1 s" in t
    resp = client.get("/healthz")
    body = resp.json()
    assert (resp.status_code, body["state"], body["ok"]) == (503, "failing", False)
    (problem,) = body["problems"]
    assert (problem["source"], problem["account"], problem["state"], problem["last_error_code"]) == (
        "metrics", "prod", "failing", "EndpointConnectionError")
    assert problem["since"] == (last_success + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    aws_client.forget_sessions()
    assert poll(3).ok
    at_clock(monkeypatch, status_views, timezone.now())
    assert _row_state(client, "metrics") == "ok"
    resp = client.get("/healthz")
    assert (resp.status_code, resp.json()["state"], resp.json()["problems"]) == (200, "ok", [])


OLD_SUCCESS = {"last_success_at": "old", "data_until": "old"}
ACCESS_DENIED = {"last_error_at": "now", "last_error_code": "AccessDenied", "last_error_permanent": True,
                 "last_error_message": "User: arn:aws:iam::123456789012:role/ops is not authorized"}


def _status_row(source: str, account, row: dict, now) -> None:
    when = {"now": now, "old": now - timedelta(hours=1)}
    values = {"last_success_at": now - timedelta(seconds=10), "data_until": now - timedelta(seconds=10), "cadence_s": 60}
    values.update({k: when.get(v, v) if k in ("last_success_at", "data_until", "last_error_at") else v
                   for k, v in row.items()})
    account = account if not isinstance(account, str) else AccountFactory(name=account)
    PollStatusFactory(source=source, account=account, **values)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "source, row, state, scope_state, code",
    [
        ("metrics", {}, "ok", "ok", 200),
        ("metrics", {"last_failed_calls": 1, "last_shortfall": "1 of 4 AWS calls failed (Throttling)"}, "degraded", "degraded", 200),
        ("metrics", {"last_error_at": "now", "last_error_code": "ReadTimeoutError"}, "degraded", "degraded", 200),
        ("metrics", OLD_SUCCESS, "failing", "failing", 503),
        ("metrics", ACCESS_DENIED, "failing", "failing", 503),
        ("logs", OLD_SUCCESS, "failing", "failing", 503),
        # Optional: without CloudTrail the product dates deploys another way, so it is degraded, not down.
        ("changes", ACCESS_DENIED, "degraded", "failing", 200),
        ("changes", OLD_SUCCESS, "degraded", "failing", 200),
        ("traces", OLD_SUCCESS, "degraded", "failing", 200),
    ],
)
def test_healthz_http_code_per_state(client, source, row, state, scope_state, code):
    now = timezone.now()
    _status_row(source, "prod", row, now)
    PollStatusFactory(source="inventory", account=AccountFactory(name="other"))  # ok: the worst one decides
    client.force_login(make_user("viewer", username="vera"))
    resp = client.get("/healthz")
    body = resp.json()
    assert (resp.status_code, body["state"], body["ok"]) == (code, state, state == "ok")
    assert body["polls"][source][scope_state] == 1 and body["polls"]["inventory"]["ok"] == 1
    assert body["polls"][source]["required"] is (source in ("metrics", "logs"))
    assert [(p["account"], p["source"], p["state"]) for p in body["problems"]] == (
        [] if state == "ok" else [("prod", source, scope_state)])


@pytest.mark.django_db
def test_healthz_is_failing_when_a_required_source_fails_whatever_the_optional_ones_do(client):
    now = timezone.now()
    _status_row("changes", "prod", ACCESS_DENIED, now)
    resp = client.get("/healthz")
    assert (resp.status_code, resp.json()["state"]) == (200, "degraded")
    _status_row("inventory", "staging", OLD_SUCCESS, now)
    resp = client.get("/healthz")
    assert (resp.status_code, resp.json()["state"]) == (503, "failing")
    # since: when the worst state began — the inventory's, missed its 3 × 60 s from an hour ago
    assert resp.json()["since"] == (now - timedelta(hours=1) + timedelta(seconds=180)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.django_db
def test_healthz_tells_anyone_the_states_and_only_the_identified_the_problems(client):
    now = timezone.now()
    account = AccountFactory(name="prod-payments")
    _status_row("metrics", account, ACCESS_DENIED, now)
    _status_row("changes", account, ACCESS_DENIED, now)
    anonymous = client.get("/healthz")
    body = anonymous.json()
    assert (anonymous.status_code, body["state"]) == (503, "failing")
    assert body["since"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (body["polls"]["metrics"]["failing"], body["polls"]["changes"]["failing"]) == (1, 1)
    assert "problems" not in body
    for secret in ("prod-payments", "us-east-1", "AccessDenied", "not authorized", "arn:aws"):
        assert secret not in anonymous.content.decode()

    user = make_user("viewer", username="vera")
    _token, raw = api_token_create(user=user, name="uptime")
    by_token = client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert [(p["source"], p["account"], p["region"], p["last_error_code"], p["required"])
            for p in by_token["problems"]] == [("changes", "prod-payments", "us-east-1", "AccessDenied", False),
                                               ("metrics", "prod-payments", "us-east-1", "AccessDenied", True)]
    refused = client.get("/healthz", HTTP_AUTHORIZATION="Bearer lops_not-a-token")
    assert (refused.status_code, "problems" in refused.json()) == (503, False)  # anonymous, not a 401

    client.force_login(user)
    assert client.get("/healthz").json()["problems"] == by_token["problems"]


@pytest.mark.django_db
def test_healthz_scope_web_checks_the_process_database_and_redis_only(client, settings):
    _status_row("metrics", "prod", OLD_SUCCESS, timezone.now())
    assert client.get("/healthz").status_code == 503
    resp = client.get("/healthz", {"scope": "web"})
    body = resp.json()
    assert (resp.status_code, body["ok"], body["scope"], set(body)) == (200, True, "web", {"ok", "scope", "checks"})
    assert (body["checks"]["database"]["ok"], body["checks"]["redis"]["ok"]) == (True, True)
    resp = client.get("/healthz", {"scope": "nope"})
    assert (resp.status_code, resp.json()) == (400, {"error": "scope: must be one of all, web", "param": "scope"})

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}
    for query in ({"scope": "web"}, {}):
        resp = client.get("/healthz", query)
        body = resp.json()
        assert (resp.status_code, body["ok"], body["checks"]["redis"]) == (503, False, {"ok": False, "error": "ConnectionError"})


@pytest.mark.django_db
def test_healthz_with_nothing_configured_is_ok(client):
    resp = client.get("/healthz")
    assert (resp.status_code, resp.json()["state"], resp.json()["polls"], resp.json()["since"]) == (200, "ok", {}, None)


# --- the function page's "data is behind" notice -------------------------------------------------

def _notice(client_in, fn) -> str:
    html = client_in.get(reverse("function", args=[fn.pk])).content.decode()
    m = re.search(r'<p class="notice (\w+)" data-state="data-behind" data-poll-state="(\w+)">(.*?)</p>', html, re.S)
    return "" if m is None else f"{m.group(1)} {m.group(2)}: {' '.join(m.group(3).split())}"


@pytest.mark.django_db
def test_no_behind_notice_while_the_scope_is_ok_or_only_some_calls_failed(client_in, estate):
    assert _notice(client_in, estate.bad) == ""
    PollStatus.objects.filter(source="metrics").update(last_failed_calls=2, last_shortfall="2 of 9 AWS calls failed")
    assert PollStatus.objects.get(source="metrics").state == ""  # a factory row: judged from its facts
    assert _notice(client_in, estate.bad) == ""  # degraded, but its data is current


@pytest.mark.django_db
def test_behind_notice_when_metrics_polling_is_failing(client_in, estate):
    now = timezone.now()
    PollStatus.objects.filter(source="metrics").update(
        last_success_at=now - timedelta(minutes=10), data_until=now - timedelta(minutes=10),
        last_error_at=now - timedelta(seconds=20), last_error_code="EndpointConnectionError")
    notice = _notice(client_in, estate.bad)
    newest = (estate.now.replace(second=0, microsecond=0) - timedelta(minutes=1))
    assert notice.startswith(f"bad failing: Data is behind: the newest minute stored for payments-api is {newest:%Y-%m-%d %H:%M} UTC")
    assert "Metrics polling for prod / us-east-1 is failing since" in notice
    assert "no successful poll for 10 min (expected every 60 s); last error EndpointConnectionError" in notice
    # said once: the generic "polling failed" notice is not repeated for the same source
    assert text(client_in.get(reverse("function", args=[estate.bad.pk]))).count("EndpointConnectionError") == 1


@pytest.mark.django_db
def test_behind_notice_when_logs_lag_though_the_last_run_succeeded(client_in, estate):
    now = timezone.now()
    PollStatusFactory(account=estate.account, source="logs", cadence_s=60, last_success_at=now - timedelta(seconds=30),
                      data_until=now - timedelta(minutes=12))
    notice = _notice(client_in, estate.bad)
    assert notice.startswith("warn degraded: Data is behind:")
    assert "Logs polling for prod / us-east-1 is degraded" in notice and "data 12 min behind" in notice


@pytest.mark.django_db
def test_the_function_api_reports_the_same_state_as_the_pages(client_in, estate):
    now = timezone.now()
    assert client_in.get(f"/api/v1/functions/{estate.bad.pk}").json()["problems"] == []
    PollStatus.objects.filter(source="metrics").update(
        last_success_at=now - timedelta(minutes=10), last_error_at=now - timedelta(seconds=20),
        last_error_code="EndpointConnectionError", last_error_message="Could not connect to the endpoint URL")
    (problem,) = client_in.get(f"/api/v1/functions/{estate.bad.pk}").json()["problems"]
    since = (now - timedelta(minutes=10) + timedelta(seconds=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert problem == {"source": "metrics", "state": "failing", "since": since,
                       "reason": "no successful poll for 10 min (expected every 60 s); last error EndpointConnectionError",
                       "code": "EndpointConnectionError", "message": "Could not connect to the endpoint URL"}
