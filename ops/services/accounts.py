"""Monitored AWS accounts: the one place that creates or changes them (admin, CLI, demo)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from ops.models import Account
from ops.services.audit import audit_record


@transaction.atomic
def account_upsert(
    *,
    name: str,
    account_id: str,
    regions: list[str],
    role_arn: str = "",
    external_id: str = "",
    enabled: bool = True,
    actor=None,
) -> Account:
    account = Account.objects.filter(account_id=account_id).first() or Account(account_id=account_id)
    created = account.pk is None
    account.name = name
    account.regions = sorted(set(regions))
    account.role_arn = role_arn
    account.external_id = external_id
    account.enabled = enabled
    account.full_clean()  # validates the account id, role ARN length and region names
    account.save()
    audit_record(
        actor=actor or "cli",
        action="account.create" if created else "account.update",
        target_type="account",
        target_id=account.account_id,
        target_label=account.name,
        parameters={"regions": account.regions, "role_arn": role_arn, "enabled": enabled},
    )
    return account


__all__ = ["ValidationError", "account_upsert"]
