"""Login throttling glue for django-axes: the lockout page and the client's address."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt is counted against.

    Without proxies (TRUSTED_PROXIES=0) the socket's address: X-Forwarded-For is then only the
    client's own claim, and trusting it would let one client rotate addresses at will. Behind N
    proxies, the entry the outermost trusted proxy appended (N-th from the right).
    """
    hops = settings.TRUSTED_PROXIES
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


def attempted_username(request: HttpRequest, credentials: dict | None) -> str:
    """The username a failed login is counted under, cut to Django's own username length (150).

    axes stores it in a 255-character column; a 10 kB "username" in a hostile POST would make
    the failure's INSERT fail and the login page answer 500. No real user has a longer name,
    so the cut never merges two real users' counts.
    """
    username = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(username)[:150]


def lockout(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """429 with the product's page: why the login is refused and when the next try is possible."""
    cooloff = settings.AXES_COOLOFF_TIME
    retry_at = timezone.now() + cooloff
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": round(cooloff.total_seconds() / 60),
        "retry_at": retry_at,
    }
    response = render(request, "registration/lockout.html", context, status=429)
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response


def audit_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """django-axes' user_locked_out receiver: one audit entry when a lock begins (never the password).

    axes sends the signal again for every refused try during the lock; those are logged by axes
    itself, and only the first becomes an audit entry so a guessing run cannot flood the log.
    """
    from ops.models import AuditResult
    from ops.services.audit import audit_record

    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures != settings.AXES_FAILURE_LIMIT:
        return
    audit_record(
        actor=f"anonymous ({ip_address})",
        action="login.locked_out",
        target_type="user",
        target_id=str(username or ""),
        target_label=str(username or ""),
        result=AuditResult.DENIED,
        parameters={"ip_address": ip_address, "failures": failures,
                    "lockout_minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)},
        message=f"{failures} wrong passwords for {username!r} from {ip_address}; logins from there refused for a while",
    )
