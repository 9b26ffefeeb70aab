"""The status page (what each poller last did) and /healthz (for load balancers and compose)."""

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
from ops.models import JobKind
from ops.selectors.inventory import accounts_without_status, poll_statuses
from ops.selectors.jobs import jobs_recent
from ops.selectors.quarantine import quarantine_by_scope
from ops.selectors.usage import api_spend
from ops.services.polling import poll_request


def status_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "poll_jobs": jobs_recent(kind=JobKind.POLL_INVENTORY),
        "request_key": uuid.uuid4().hex,
        "statuses": poll_statuses(),
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


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """DB and Redis reachability plus the age of the oldest successful poll per source. No secrets."""
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
    polls: dict[str, dict] = {}
    if checks["database"]["ok"]:
        now = timezone.now()
        for st in poll_statuses():
            entry = polls.setdefault(st.source, {"scopes": 0, "failing": 0, "oldest_success_age_s": None})
            entry["scopes"] += 1
            if not st.healthy:
                entry["failing"] += 1
            if st.last_success_at:
                age = round((now - st.last_success_at).total_seconds())
                if entry["oldest_success_age_s"] is None or age > entry["oldest_success_age_s"]:
                    entry["oldest_success_age_s"] = age
    body = {"ok": ok, "checks": checks, "polls": polls, "aws_endpoint": "custom" if settings.AWS_ENDPOINT_URL else "aws"}
    return JsonResponse(body, status=200 if ok else 503)
