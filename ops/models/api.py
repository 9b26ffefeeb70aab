"""API tokens for the read-only JSON API: only a hash of each token is stored."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from ops.models.choices import ApiTokenState


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64, blank=True)
    prefix = models.CharField(max_length=12)  # the first characters, to tell tokens apart in lists
    # sha256 of the whole token: tokens are 256-bit random, so a fast hash is enough
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Touched at most once a minute (ops.services.api_tokens): a read API must not write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: until revoked
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "ops"
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def state(self, *, now: datetime) -> ApiTokenState:
        if self.revoked_at is not None:
            return ApiTokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return ApiTokenState.EXPIRED
        return ApiTokenState.ACTIVE


__all__ = ["ApiToken"]
