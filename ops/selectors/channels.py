"""What the channels page reads: every channel with its rule and waiting counts, and the latest
notifications across channels (state, attempts, last error — scrubbed when written)."""

from __future__ import annotations

from django.db.models import Count, Q

from ops.models import Channel, Notification
from ops.models.choices import NotificationState


def channel_rows() -> list[Channel]:
    return list(Channel.objects.annotate(
        rule_count=Count("rules", distinct=True),
        waiting=Count("notifications", filter=Q(notifications__state__in=(NotificationState.PENDING, NotificationState.SENDING)), distinct=True),
    ).order_by("name"))


def notifications_recent(*, limit: int = 25) -> list[Notification]:
    return list(Notification.objects.select_related("channel", "incident").order_by("-created_at", "-id")[:limit])
