"""Signed, expiring links a notification carries: acknowledge, mute for N minutes.

The link is not a password: following it needs a login (and the operator role to act); it only
says which incident and which action, and that Lambda Ops wrote it less than
``ALERT_LINK_MAX_AGE_SECONDS`` ago. One salt per purpose, so an acknowledge link cannot be
replayed as a mute one. A GET shows a confirm page; only the POST acts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ops.alerts.acks import MUTE_MAX_MINUTES

PURPOSES = ("ack", "mute")
_ACTION = re.compile(r"^(ack|mute:(\d{1,5}))$")


class LinkInvalid(ValueError):
    """A link that must not act, with the reason the page shows."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkAction:
    incident_id: int
    action: str  # "ack" | "mute"
    minutes: int = 0

    @property
    def label(self) -> str:
        return "Acknowledge" if self.action == "ack" else f"Mute for {self.minutes} min"


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"ops.alerts.links.{purpose}")


def _parse(action: str) -> tuple[str, int]:
    m = _ACTION.match(action or "")
    if not m:
        raise ValueError(f"unknown incident link action {action!r}: 'ack' or 'mute:<minutes>'")
    if m.group(1) == "ack":
        return "ack", 0
    minutes = int(m.group(2))
    if not 1 <= minutes <= MUTE_MAX_MINUTES:
        raise ValueError(f"mute for 1 to {MUTE_MAX_MINUTES} minutes, not {minutes}")
    return "mute", minutes


def incident_link_token(*, incident_id: int, action: str) -> str:
    purpose, minutes = _parse(action)
    return _signer(purpose).sign_object({"i": incident_id, "m": minutes})


def incident_link(*, incident, action: str) -> str:
    """The absolute URL of the confirm page for ``action`` ("ack" or "mute:<minutes>")."""
    token = incident_link_token(incident_id=incident.pk, action=action)
    return settings.PUBLIC_URL.rstrip("/") + reverse("incident-act", args=[incident.pk, token])


def incident_link_read(*, incident_id: int, token: str) -> LinkAction:
    """What a link asks for, or LinkInvalid (expired, altered, for another incident)."""
    max_age = settings.ALERT_LINK_MAX_AGE_SECONDS
    for purpose in PURPOSES:
        try:
            payload = _signer(purpose).unsign_object(token, max_age=max_age)
        except signing.SignatureExpired:
            hours = max_age / 3600
            raise LinkInvalid(f"This link has expired: links work for {hours:g} h after the notification was "
                              "sent. Open the incident to act from its page.", expired=True) from None
        except (signing.BadSignature, ValueError, UnicodeError):
            continue
        if not isinstance(payload, dict) or payload.get("i") != incident_id:
            break
        minutes = payload.get("m", 0)
        if purpose == "mute" and not (isinstance(minutes, int) and 1 <= minutes <= MUTE_MAX_MINUTES):
            break
        return LinkAction(incident_id=incident_id, action=purpose, minutes=minutes if purpose == "mute" else 0)
    raise LinkInvalid("This link is not valid (altered, cut short or for another incident): nothing was done. "
                      "Open the incident to act from its page.")
