"""The one way to write the audit log."""

from __future__ import annotations

from ops.models import AuditEntry, AuditResult


def audit_record(
    *,
    actor,
    action: str,
    target_type: str,
    target_id: str,
    result: str = AuditResult.SUCCEEDED,
    target_label: str = "",
    parameters: dict | None = None,
    message: str = "",
) -> AuditEntry:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user else str(actor or "system"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        parameters=parameters or {},
        result=result,
        message=message[:4000],
    )
