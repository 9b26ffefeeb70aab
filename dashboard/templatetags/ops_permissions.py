"""Template helpers for permission verdicts (ops.selectors.permissions)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def scope_reason(reasons: dict, status) -> str:
    """``permission_denied_reasons(...)`` looked up for a PollStatus-like row (account_id, region)."""
    if not reasons:
        return ""
    return reasons.get((status.account_id, status.region), "")
