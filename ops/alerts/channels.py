"""Channel services: create, change, delete, re-enable. The target is kept as typed after
validation (ops.alerts.targets) and from then on only its hint is shown."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from ops.alerts.outbox import channel_enable
from ops.alerts.targets import target_check, target_hint
from ops.models import Channel

log = logging.getLogger(__name__)


def channel_save(*, channel: Channel, name: str, kind: str, target: str | None, actor) -> Channel:
    """Create or update. ``target`` None or "" keeps the stored one (edit pages never show it);
    a new or changed target is validated, and a changed one re-enables a channel that a
    permanent error had disabled (the fix is usually a new URL)."""
    creating = channel.pk is None
    changed_target = bool(target)
    kind_changed = not creating and kind != channel.kind
    if creating and not target:
        raise ValidationError({"target": "Enter where to send."})
    if kind_changed and not target:
        raise ValidationError({"target": "A new kind needs a new target."})
    if changed_target:
        target = target_check(kind=kind, target=target)
    with transaction.atomic():
        channel.name, channel.kind = name, kind
        if changed_target:
            channel.target = target
            channel.target_hint = target_hint(kind=kind, target=target)
        channel.save()
        if changed_target and not creating and not channel.enabled:
            channel_enable(channel=channel)
    log.info("channel %s (%s) %s by %s", channel.name, channel.kind, "created" if creating else "saved",
             getattr(actor, "username", "?"))
    return channel


def channel_delete(*, channel: Channel, actor) -> None:
    log.info("channel %s (%s) deleted by %s", channel.name, channel.kind, getattr(actor, "username", "?"))
    channel.delete()
