"""Reads of API tokens: the list `manage.py token list` prints, and finding one to revoke."""

from __future__ import annotations

from django.db.models import QuerySet

from ops.models.api import ApiToken


def api_token_list(*, username: str = "") -> QuerySet[ApiToken]:
    qs = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return qs.filter(user__username=username) if username else qs


def api_token_find(*, ref: str) -> ApiToken:
    """A token by its id or its prefix as lists show it ("lops_Qk1abcd", a trailing "…" allowed).

    Raises ApiToken.DoesNotExist, or ApiToken.MultipleObjectsReturned for a prefix two tokens share.
    """
    ref = ref.strip().rstrip("…").rstrip(".")
    qs = ApiToken.objects.select_related("user")
    if ref.isdigit():
        return qs.get(pk=int(ref))
    return qs.get(prefix=ref)
