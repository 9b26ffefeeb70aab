"""The status page (each poller's state per account × region) and /healthz (for uptime checkers,
load balancers and compose; ``?scope=web`` for the web container's own probe). Both read the
state from ops.pollers.health, so they agree."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from urllib.parse import urlencode

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
from dashboard.params import ParamError, choice, integer, page, page_view, text
from dashboard.permissions import operator_required
from dashboard.views.api_http import request_identified
from ops.actions.runner import JobRequestError
from ops.models import CadenceReason, JobKind, PollState
from ops.pollers.health import failing_cycles
from ops.selectors.alerts import alert_tick_summary
from ops.selectors.inventory import accounts_without_status
from ops.selectors.status import health_summary, poll_healths
from ops.selectors.jobs import jobs_recent
from ops.selectors.permissions import permission_denied_reasons, permission_problems, permissions_checked
from ops.selectors.quarantine import quarantine_by_scope
from ops.selectors.cadence import function_cadences, scope_cadences, triggers_recent
from ops.selectors.usage import api_spend
from ops.services.polling import poll_request
from ops.timefmt import iso_utc


def now() -> datetime:
    """The pages' clock (tests replace it, to judge a state later without waiting)."""
    return timezone.now()


def status_page(request: HttpRequest) -> HttpResponse:
    at = now()
    context = {
        "poll_jobs": jobs_recent(kind=JobKind.POLL_INVENTORY),
        "request_key": uuid.uuid4().hex,
        "statuses": poll_healths(now=at),
        "failing_cycles": failing_cycles(),
        "never_polled": accounts_without_status(),
        "now": at,
        "spend": api_spend(now=at),
        "cadence_scopes": scope_cadences(now=at),
        "triggers": triggers_recent(now=at),
        "detect_busy_hours": settings.DETECT_BUSY_HOURS,
        "inventory_every_s": settings.INVENTORY_POLL_SECONDS,
        "quarantine": quarantine_by_scope(),
        "permission_problems": permission_problems(),
        "permissions_checked": permissions_checked(),
        # "poll now" is shown disabled, with the reason, where the inventory's reads are denied.
        "poll_denied": permission_denied_reasons(action=JobKind.POLL_INVENTORY),
        "alert_tick": alert_tick_summary(now=at),
        "alerts_every_s": settings.ALERTS_TICK_SECONDS,
    }
    return render(request, "dashboard/status.html", context)


CADENCE_PAGE_SIZE = 100


@page_view
def cadence_page(request: HttpRequest) -> HttpResponse:
    """Every function's metrics cadence and why, filterable by scope and reason, 100 a page."""
    at = now()
    account = integer(request.GET, "account", default=0, minimum=0, maximum=2**31 - 1)
    region = text(request.GET, "region", max_length=32)
    reason = choice(request.GET, "reason", CadenceReason.values, default="")
    number = page(request.GET)
    rows, total = function_cadences(now=at, account_id=account or None, region=region, reason=reason,
                                    offset=(number - 1) * CADENCE_PAGE_SIZE, limit=CADENCE_PAGE_SIZE)
    pages = max(1, -(-total // CADENCE_PAGE_SIZE))
    query = {k: v for k, v in (("account", account or ""), ("region", region), ("reason", reason)) if v}
    return render(request, "dashboard/cadence.html", {
        "now": at, "rows": rows, "total": total, "page": number, "pages": pages,
        "first": (number - 1) * CADENCE_PAGE_SIZE + 1, "last": (number - 1) * CADENCE_PAGE_SIZE + len(rows),
        "reason": reason, "reasons": CadenceReason.choices, "region": region, "account": account,
        "query": urlencode(query),
        "accounts": sorted({(sc.account_id, sc.account) for sc in scope_cadences(now=at)}, key=lambda a: a[1]),
    })


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


# What an uptime checker acts on (README's /healthz table): 200 while the product works — ok, or
# degraded: some data lags, or an optional source (CloudTrail "changes") is failing — and 503
# when it does not: the database or Redis unreachable, or a required source (inventory, metrics,
# logs) failing somewhere. An optional source failing is degraded here (ops.pollers.health).
HTTP_BY_STATE = {PollState.OK: 200, PollState.DEGRADED: 200, PollState.FAILING: 503}
# "web": the process, the database and Redis only, for compose's probe of the web container,
# which must not call web unhealthy because AWS or a poller is.
HEALTHZ_SCOPES = ("all", "web")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """DB and Redis reachability, then the product's polling state. Anyone gets the states and
    counts per source; a session or a valid API token also gets ``problems``, which name
    accounts, regions and AWS's errors."""
    try:
        scope = choice(request.GET, "scope", HEALTHZ_SCOPES, default="all")
    except ParamError as err:
        return JsonResponse({"error": str(err), "param": err.name}, status=400)
    checks = _checks()
    up = checks["database"]["ok"] and checks["redis"]["ok"]
    if scope == "web":
        return JsonResponse({"ok": up, "scope": scope, "checks": checks}, status=200 if up else 503)
    body = {"ok": False, "state": PollState.FAILING, "since": None, "checks": checks, "polls": {},
            "failing_after_cycles": failing_cycles(),
            "aws_endpoint": "custom" if settings.AWS_ENDPOINT_URL else "aws"}
    if checks["database"]["ok"]:
        summary = health_summary(now=now())
        state = summary.state if up else PollState.FAILING
        body.update(ok=state == PollState.OK, state=state, since=iso_utc(summary.since) if up else None,
                    polls=summary.sources)
        if _identified(request):
            body["problems"] = [_problem(h) for h in summary.not_ok]
    return JsonResponse(body, status=HTTP_BY_STATE[body["state"]])


def _checks() -> dict[str, dict]:
    checks: dict[str, dict] = {}
    t0 = time.monotonic()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    t0 = time.monotonic()
    try:
        cache.set("healthz", "1", 5)
        checks["redis"] = {"ok": cache.get("healthz") == "1", "ms": round((time.monotonic() - t0) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    return checks


def _identified(request: HttpRequest) -> bool:
    try:
        return request_identified(request)
    except Exception:  # noqa: BLE001 - a session or token that cannot be read: answer as to anyone
        return False


def _problem(h) -> dict:
    return {
        "source": h.source,
        "required": h.required,
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
