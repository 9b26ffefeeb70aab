"""Alert rule writes: create, edit, delete (audited). The form has bounded the values; this
writes them and the channel links in one transaction."""

from __future__ import annotations

from django.db import transaction

from ops.models import AlertRule
from ops.services.audit import audit_record

RULE_FIELDS = ("name", "signal", "scope", "function", "account", "region", "tag_key", "tag_value", "comparison",
               "threshold", "min_volume", "windows_m", "windows_n", "missing_data", "severity", "enabled",
               "group_wait_s", "group_interval_s", "repeat_interval_s", "auto_rollback_alias", "auto_rollback_minutes")


def _audit(rule: AlertRule, *, action: str, actor) -> None:
    audit_record(actor=actor, action=action, target_type="alert_rule", target_id=str(rule.pk), target_label=rule.name,
                 parameters={"signal": rule.signal, "scope": rule.scope, "comparison": rule.comparison,
                             "threshold": rule.threshold, "m": rule.windows_m, "n": rule.windows_n,
                             "auto_rollback_alias": rule.auto_rollback_alias_id})


@transaction.atomic
def alert_rule_save(*, rule: AlertRule | None, data: dict, user) -> AlertRule:
    """Create (``rule`` None) or update a rule from cleaned values; ``data["channels"]`` the
    channels to notify."""
    created = rule is None
    rule = rule or AlertRule(created_by=user if getattr(user, "is_authenticated", False) else None)
    for name in RULE_FIELDS:
        if name in data:
            setattr(rule, name, data[name])
    rule.save()
    if "channels" in data:
        rule.channels.set(data["channels"])
    _audit(rule, action="alert_rule.create" if created else "alert_rule.update", actor=user)
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, user) -> None:
    """Delete a rule; its states go with it, its flips stay (rule_name kept) so an open incident
    still says what fired."""
    _audit(rule, action="alert_rule.delete", actor=user)
    rule.delete()
