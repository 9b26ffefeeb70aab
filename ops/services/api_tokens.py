"""API tokens: create one (the plain token is shown once), resolve a presented token to a user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ops.models.api import ApiToken
from ops.services.audit import audit_record

TOKEN_PREFIX = "lops_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _audit(token: ApiToken, *, action: str, actor) -> None:
    audit_record(
        actor=actor or "cli",
        action=action,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=f"{token.prefix}… ({token.user.get_username()})",
        parameters={"name": token.name},
    )


@transaction.atomic
def api_token_create(*, user: User, name: str = "", actor=None) -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:64], prefix=raw[:12], token_hash=_hash(raw))
    _audit(token, action="api_token.create", actor=actor)
    return token, raw


def api_token_user(*, raw: str) -> User | None:
    """The active user behind a presented token, or None. Marks the token used (once a minute)."""
    if not raw or len(raw) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=_hash(raw), revoked_at=None).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor=None) -> None:
    if ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now()):
        _audit(token, action="api_token.revoke", actor=actor)
