"""Notification transports, one small class per channel kind, found by ``transport_for``."""

from __future__ import annotations

from ops.alerts.transports.base import DeliveryError, SendResult, Transport
from ops.alerts.transports.email import EmailTransport
from ops.alerts.transports.slack import SlackTransport
from ops.alerts.transports.webhook import WebhookTransport
from ops.models.choices import ChannelKind

REGISTRY: dict[str, Transport] = {
    ChannelKind.SLACK: SlackTransport(),
    ChannelKind.EMAIL: EmailTransport(),
    ChannelKind.WEBHOOK: WebhookTransport(),
}


def transport_for(kind: str) -> Transport:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise DeliveryError(f"no transport for channel kind {kind!r}", permanent=True) from None


__all__ = ["DeliveryError", "SendResult", "Transport", "REGISTRY", "transport_for"]
