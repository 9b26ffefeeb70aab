"""Monitored AWS accounts: the one place that creates, changes or removes them (admin, CLI, demo).

Every write here records an audit entry; ``actor`` is the user (admin) or a name such as "cli".
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from ops.models import Account
from ops.services.audit import audit_record


def _audit(account: Account, *, action: str, actor) -> None:
    audit_record(
        actor=actor or "cli",
        action=action,
        target_type="account",
        target_id=account.account_id,
        target_label=account.name,
        parameters={"regions": account.regions, "role_arn": account.role_arn, "enabled": account.enabled},
    )


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
    _audit(account, action="account.create" if created else "account.update", actor=actor)
    return account


@transaction.atomic
def account_save(*, account: Account, actor) -> Account:
    """Save an account edited in a validated form (the admin), creating or updating it."""
    created = account.pk is None
    account.full_clean()
    account.save()
    _audit(account, action="account.create" if created else "account.update", actor=actor)
    return account


@transaction.atomic
def account_disable(*, name: str, actor=None) -> Account:
    """Stop polling an account; its history stays. Raises Account.DoesNotExist."""
    account = Account.objects.select_for_update().get(name=name)
    account.enabled = False
    account.save(update_fields=["enabled"])
    _audit(account, action="account.disable", actor=actor)
    return account


@transaction.atomic
def account_delete(*, account: Account, actor) -> None:
    """Remove an account and everything polled for it (admin only)."""
    _audit(account, action="account.delete", actor=actor)
    account.delete()


__all__ = ["ValidationError", "account_delete", "account_disable", "account_save", "account_upsert"]
