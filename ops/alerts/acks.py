"""What an on-call engineer does to an incident: acknowledge it, mute it for a while, unmute it.

Each is a conditional UPDATE plus one timeline event, so a double click (or the page and the
signed link at once) acknowledges once. Muting only sets ``muted_until``: the outbox sends
nothing for the incident until then (ops.alerts.outbox checks it).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ops.models.alerts import Incident, IncidentEvent
from ops.models.choices import IncidentEventKind, IncidentStatus

MUTE_MAX_MINUTES = 7 * 24 * 60
# What the incident page and the notification's links offer.
MUTE_CHOICES = (30, 60, 240, 1440)


def _name(user) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else str(user or "system")


def _via(via: str) -> str:
    return {"link": "from the notification's link", "page": "from the incident page"}.get(via, via)


def incident_acknowledge(*, incident: Incident, user, via: str) -> bool:
    """Acknowledge an open incident; False when it already was (or is resolved): nothing written."""
    now = timezone.now()
    name = _name(user)
    actor = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        done = Incident.objects.filter(pk=incident.pk, acknowledged_at=None, status=IncidentStatus.OPEN).update(
            acknowledged_at=now, acknowledged_by=actor, acknowledged_by_name=name)
        if done != 1:
            return False
        IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.ACKNOWLEDGED, actor_name=name,
                                     text=f"acknowledged by {name} {_via(via)}", data={"via": via})
    incident.acknowledged_at, incident.acknowledged_by, incident.acknowledged_by_name = now, actor, name
    return True


def incident_mute(*, incident: Incident, user, minutes: int, via: str) -> bool:
    """Mute notifications of an open incident for ``minutes`` (from now; a second mute replaces
    the first). False for a resolved incident. A duration outside 1 min … 7 days is refused."""
    if not isinstance(minutes, int) or not 1 <= minutes <= MUTE_MAX_MINUTES:
        raise ValueError(f"mute for 1 to {MUTE_MAX_MINUTES} minutes (7 days), not {minutes!r}")
    now = timezone.now()
    until = now + timedelta(minutes=minutes)
    name = _name(user)
    with transaction.atomic():
        if Incident.objects.filter(pk=incident.pk, status=IncidentStatus.OPEN).update(
                muted_until=until, muted_by_name=name) != 1:
            return False
        IncidentEvent.objects.create(
            incident=incident, at=now, kind=IncidentEventKind.MUTED, actor_name=name,
            text=f"muted by {name} for {minutes} min, until {until:%Y-%m-%d %H:%M} UTC, {_via(via)}",
            data={"via": via, "minutes": minutes, "until": until.isoformat()},
        )
    incident.muted_until, incident.muted_by_name = until, name
    return True


def incident_unmute(*, incident: Incident, user, via: str) -> bool:
    """End a mute that has not ended yet; False when there is none."""
    now = timezone.now()
    name = _name(user)
    with transaction.atomic():
        if Incident.objects.filter(pk=incident.pk, muted_until__gt=now).update(muted_until=None) != 1:
            return False
        IncidentEvent.objects.create(incident=incident, at=now, kind=IncidentEventKind.UNMUTED, actor_name=name,
                                     text=f"unmuted by {name} {_via(via)}", data={"via": via})
    incident.muted_until = None
    return True
