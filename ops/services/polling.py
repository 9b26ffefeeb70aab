"""Ask for a poll outside the schedule (the status page's "poll now")."""

from __future__ import annotations

from django.db import transaction

from ops.models import Account
from ops.services.audit import audit_record


def poll_request(*, account: Account, region: str, user) -> None:
    from ops.tasks import poll_inventory

    audit_record(
        actor=user,
        action="poll.request",
        target_type="account",
        target_id=account.account_id,
        target_label=f"{account.name}/{region}",
        parameters={"source": "inventory", "region": region},
    )
    transaction.on_commit(lambda: poll_inventory.delay(account.pk, region))
