"""API tokens: create one (the plain token is shown once), check a presented one, change,
revoke or delete one. Every write is audited; nothing here ever logs or stores the token itself."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ops.models.api import ApiToken
from ops.models.choices import ApiTokenState
from ops.services.audit import audit_record
from ops.timefmt import iso_utc

TOKEN_PREFIX = "lops_"
MAX_TOKEN_LENGTH = 200
# last_used_at is for "is this token still in use?", not a request log: once a minute is
# precise enough and spares a write on every API call.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class TokenRefused(Exception):
    """A presented token that does not authenticate; the message says why (for the 401)."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _audit(token: ApiToken, *, action: str, actor, parameters: dict | None = None) -> None:
    audit_record(
        actor=actor or "cli",
        action=action,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=f"{token.prefix}… ({token.user.get_username()})",
        parameters={"name": token.name} | (parameters or {}),
    )


@transaction.atomic
def api_token_create(
    *, user: User, name: str = "", expires_at: datetime | None = None, actor=None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the plain token, which exists only now."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("the expiry must be in the future")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:64], prefix=raw[:12], token_hash=_hash(raw), expires_at=expires_at
    )
    _audit(token, action="api_token.create", actor=actor, parameters={"expires_at": iso_utc(expires_at)})
    return token, raw


def api_token_authenticate(*, raw: str) -> ApiToken:
    """The token (with its user) behind a presented secret; marks it used, at most once a minute.

    Raises TokenRefused saying why: unknown, revoked, expired, or its user is inactive.
    """
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise TokenRefused("unknown API token")
    token = ApiToken.objects.select_related("user").filter(token_hash=_hash(raw)).first()
    if token is None:
        raise TokenRefused("unknown API token")
    now = timezone.now()
    state = token.state(now=now)
    if state == ApiTokenState.REVOKED:
        raise TokenRefused(f"API token {token.prefix}… was revoked")
    if state == ApiTokenState.EXPIRED:
        raise TokenRefused(f"API token {token.prefix}… expired at {iso_utc(token.expires_at)}")
    if not token.user.is_active:
        raise TokenRefused(f"API token {token.prefix}… belongs to an inactive user")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        # Conditional, so concurrent requests in the same minute make one write between them.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USED_GRANULARITY)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def api_token_update(*, token: ApiToken, actor) -> None:
    """Save what the admin may change (name, expiry), audited."""
    token.save(update_fields=["name", "expires_at"])
    _audit(token, action="api_token.update", actor=actor, parameters={"expires_at": iso_utc(token.expires_at)})


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor=None) -> bool:
    """Revoke a token now; False if it was already revoked (then nothing is written)."""
    now = timezone.now()
    if not ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=now):
        return False
    token.revoked_at = now
    _audit(token, action="api_token.revoke", actor=actor)
    return True


@transaction.atomic
def api_token_delete(*, token: ApiToken, actor) -> None:
    _audit(token, action="api_token.delete", actor=actor)
    token.delete()
