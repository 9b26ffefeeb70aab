"""The status page (each poller's state per account × region) and /healthz (for uptime checkers,
load balancers and compose). Both read the state from ops.pollers.health, so they agree."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.forms import PollNowForm
from dashboard.permissions import operator_required
from ops.actions.runner import JobRequestError
from ops.models import JobKind, PollState
from ops.pollers.health import failing_cycles
from ops.selectors.inventory import accounts_without_status
from ops.selectors.status import health_summary, poll_healths
from ops.selectors.jobs import jobs_recent
from ops.selectors.quarantine import quarantine_by_scope
from ops.selectors.usage import api_spend
from ops.services.polling import poll_request
from ops.timefmt import iso_utc


def status_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "poll_jobs": jobs_recent(kind=JobKind.POLL_INVENTORY),
        "request_key": uuid.uuid4().hex,
        "statuses": poll_healths(now=now),
        "failing_cycles": failing_cycles(),
        "never_polled": accounts_without_status(),
        "now": now,
        "spend": api_spend(now=now),
        "inventory_every_s": settings.INVENTORY_POLL_SECONDS,
        "quarantine": quarantine_by_scope(),
    }
    return render(request, "dashboard/status.html", context)


@require_POST
@operator_required
def poll_now(request: HttpRequest) -> HttpResponse:
    """Ask for an inventory poll of one account×region now, as a job (operators; audited)."""
    form = PollNowForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.first_error())
        return redirect("status")
    try:
        outcome = poll_request(
            account_id=form.cleaned_data["account"],
            region=form.cleaned_data["region"],
            user=request.user,
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except JobRequestError as err:
        messages.error(request, str(err))
        return redirect("status")
    (messages.success if outcome.created else messages.info)(request, outcome.message)
    return redirect("status")


# What an uptime checker acts on: 200 while the product works (ok, or degraded: some data may
# lag, the detail says why), 503 when it does not (a scope × source failing, or the database or
# Redis unreachable).
HTTP_BY_STATE = {PollState.OK: 200, PollState.DEGRADED: 200, PollState.FAILING: 503}


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """DB and Redis reachability, then every scope × source's polling state. No secrets."""
    checks: dict[str, dict] = {}
    ok = True
    t0 = time.monotonic()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        ok = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    t0 = time.monotonic()
    try:
        cache.set("healthz", "1", 5)
        checks["redis"] = {"ok": cache.get("healthz") == "1", "ms": round((time.monotonic() - t0) * 1000, 1)}
        ok = ok and checks["redis"]["ok"]
    except Exception as exc:  # noqa: BLE001
        ok = False
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    state, polls, problems = PollState.FAILING, {}, []
    if checks["database"]["ok"]:
        now = timezone.now()
        summary = health_summary(now=now)
        polls = summary.sources
        problems = [_problem(h, now) for h in summary.not_ok]
        state = summary.state if ok else PollState.FAILING
    body = {
        "ok": ok and state == PollState.OK,
        "state": state,
        "checks": checks,
        "polls": polls,
        "problems": problems,
        "failing_after_cycles": failing_cycles(),
        "aws_endpoint": "custom" if settings.AWS_ENDPOINT_URL else "aws",
    }
    return JsonResponse(body, status=HTTP_BY_STATE[state])


def _problem(h, now) -> dict:
    return {
        "source": h.source,
        "account": h.account.name,
        "region": h.region,
        "state": h.state,
        "since": iso_utc(h.since),
        "reason": h.reason,
        "last_error_code": h.last_error_code or None,
        "last_error_at": iso_utc(h.last_error_at),
        "last_success_at": iso_utc(h.last_success_at),
        "data_until": iso_utc(h.data_until),
        "lag_s": h.lag_s,
    }
