"""The message of a notification, rendered once from an incident when the outbox decides to send
it and stored on the Notification row: what was true then, whatever the incident becomes.

A payload is transport-neutral: Slack turns it into Block Kit, email into text and HTML, the
JSON webhook sends its documented fields. Every link is absolute (settings.PUBLIC_URL): the
reader is in Slack or a mail client, not on this site.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ops.models import Alias, AliasChange, AlertFlip, AlertRule, AlertState, Channel, Incident, IncidentEvent, Queue
from ops.models.choices import (
    DLQ_ROLES,
    AlertComparison,
    AlertSignal,
    AlertStateName,
    IncidentEventKind,
    IncidentStatus,
    NotificationKind,
)
from ops.rules.signals import BY_KEY
from ops.timefmt import iso_utc, minute_utc

log = logging.getLogger(__name__)

_COMPARISON = dict(AlertComparison.choices)
# Units of the signals that are not ops.rules.signals (not about one function's record).
_OTHER_UNITS = {
    AlertSignal.DLQ_DEPTH: "messages",
    AlertSignal.REGION_HEADROOM: "% of the account limit left",
    AlertSignal.POLLER_FAILING: "(1 = failing)",
}
_STATUS_WORD = {NotificationKind.FIRING: "FIRING", NotificationKind.REPEAT: "STILL FIRING",
                NotificationKind.RESOLVED: "RESOLVED", NotificationKind.TEST: "TEST"}


def signal_unit(signal: str) -> str:
    known = BY_KEY.get(signal)
    if known is not None:
        return "" if known.unit == "count" else known.unit
    return _OTHER_UNITS.get(signal, "")


def absolute(path: str) -> str:
    if not path:
        return ""
    if path.startswith(("http://", "https://")):
        return path
    return settings.PUBLIC_URL.rstrip("/") + "/" + path.lstrip("/")


def _reverse(name: str, *args) -> str:
    try:
        return absolute(reverse(name, args=args))
    except NoReverseMatch:
        return ""


def incident_page_url(incident: Incident) -> str:
    # The incident pages belong to the incidents part; until its route exists, the path it uses.
    return _reverse("incident", incident.pk) or absolute(f"/incidents/{incident.pk}/")


def action_link(*, incident: Incident, action: str) -> str:
    """The signed acknowledge/mute link (ops.alerts.links, the incidents part). Imported lazily:
    where that module is not there yet the incident page stands in, where the same actions are
    a click away after login."""
    try:
        from ops.alerts.links import incident_link
    except ImportError:
        return incident_page_url(incident)
    try:
        return incident_link(incident=incident, action=action)
    except Exception:  # a link that cannot be signed must not stop the notification
        log.exception("could not sign the %s link of incident %s", action, incident.pk)
        return incident_page_url(incident)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    text = f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def format_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _deciding_flip(incident: Incident) -> AlertFlip | None:
    """The newest firing flip of the incident (its value and threshold), else its newest flip."""
    flips = AlertFlip.objects.filter(incident=incident).select_related("rule").order_by("-at", "-id")
    return flips.filter(new_state=AlertStateName.FIRING).first() or flips.first()


def incident_rules(incident: Incident, *, firing_only: bool) -> list[AlertRule]:
    """The rules of the incident: those whose state points at it (firing now, if asked), and
    those whose flips were grouped into it (a resolved incident's states have moved on)."""
    states = AlertState.objects.filter(incident=incident)
    if firing_only:
        states = states.filter(state=AlertStateName.FIRING)
    ids = set(states.values_list("rule_id", flat=True))
    if not ids or not firing_only:
        flips = AlertFlip.objects.filter(incident=incident, rule__isnull=False)
        if firing_only:
            flips = flips.filter(new_state=AlertStateName.FIRING)
        ids |= set(flips.values_list("rule_id", flat=True))
    return list(AlertRule.objects.filter(id__in=ids).prefetch_related("channels"))


def _rollback_alias(function) -> Alias | None:
    """The alias a rollback would move: the one changed last (the deploy under suspicion)."""
    change = AliasChange.objects.filter(function=function).select_related("alias").order_by("-at", "-id").first()
    if change is not None:
        return change.alias
    return Alias.objects.filter(function=function).order_by("name").first()


def _dlq(function) -> Queue | None:
    """The function's first DLQ (its async DLQ, on-failure destination or a source queue's DLQ)."""
    return Queue.objects.filter(function_links__function=function, function_links__role__in=DLQ_ROLES).order_by("name").first()


def incident_payload(*, incident: Incident, kind: str, now: datetime | None = None) -> dict:
    """Everything a transport needs, as plain JSON (stored on the Notification row)."""
    now = now or timezone.now()
    flip = _deciding_flip(incident)
    rule = flip.rule if flip is not None else None
    signal = rule.signal if rule is not None else ""
    unit = signal_unit(signal)
    function = incident.function
    resolved = kind == NotificationKind.RESOLVED
    comparison = _COMPARISON.get(rule.comparison, ">") if rule is not None else ""
    value = flip.value if flip is not None else None
    threshold = flip.threshold if flip is not None else (rule.threshold if rule is not None else None)

    links = {"incident": incident_page_url(incident), "function": "", "dlq": "", "rollback": "",
             "ack": action_link(incident=incident, action="ack"),
             "mute": action_link(incident=incident, action="mute:60")}
    where = incident.scope_key
    function_info = None
    rollback_label = ""
    if function is not None:
        links["function"] = _reverse("function", function.pk)
        queue = _dlq(function)
        if queue is not None:
            links["dlq"] = _reverse("dlq", queue.pk)
        alias = _rollback_alias(function)
        if alias is not None:
            links["rollback"] = _reverse("alias-rollback", function.pk, alias.pk)
            rollback_label = f"Roll back {alias.name}"
        where = f"{function.name} · {function.region} · {function.account.name if function.account_id else ''}".rstrip(" ·")
        function_info = {"id": function.pk, "name": function.name, "region": function.region,
                         "account": function.account.account_id if function.account_id else ""}

    began = incident.began_at
    facts: list[tuple[str, str]] = []
    if function is not None or where:
        facts.append(("Function" if function is not None else "Scope", where))
    if rule is not None:
        facts.append(("Rule", rule.name))
    elif flip is not None:
        facts.append(("Rule", flip.rule_name))
    if threshold is not None or value is not None:
        facts.append(("Value", f"{format_value(value, unit)} (threshold {comparison} {format_value(threshold, unit)})"))
    facts.append(("Since", f"{minute_utc(began)} ({format_duration((now - began).total_seconds())} ago)"))
    duration_s = None
    if resolved:
        end = incident.resolved_at or now
        duration_s = int((end - began).total_seconds())
        facts.append(("Resolved", minute_utc(end)))
        facts.append(("Duration", format_duration(duration_s)))
    if incident.acknowledged_at:
        facts.append(("Acknowledged", f"by {incident.acknowledged_by_name or 'someone'} at {minute_utc(incident.acknowledged_at)}"))

    rollback = (IncidentEvent.objects.filter(incident=incident, kind=IncidentEventKind.AUTO_ROLLBACK)
                .order_by("-at", "-id").first())
    if rollback is not None:
        # the opt-in automatic rollback ran (ops.alerts.incidents): the reader must know before acting
        facts.append(("Automatic rollback", rollback.text))
        if rollback.job_id:
            links["auto_rollback_job"] = _reverse("job", rollback.job_id)

    diagnosis = [{"key": str(d.get("key", "")), "text": str(d.get("text", "")), "url": absolute(str(d.get("url", "")))}
                 for d in (incident.diagnosis or []) if isinstance(d, dict)]
    buttons = [{"label": "Open function", "url": links["function"]}]
    if links["dlq"]:
        buttons.append({"label": "Open DLQ", "url": links["dlq"]})
    if links["rollback"] and not resolved:
        buttons.append({"label": rollback_label, "url": links["rollback"], "style": "danger"})
    if not resolved:
        buttons.append({"label": "Acknowledge", "url": links["ack"], "style": "primary"})
        buttons.append({"label": "Mute 1 h", "url": links["mute"]})
    buttons.append({"label": "Incident", "url": links["incident"]})

    status_word = _STATUS_WORD.get(kind, kind.upper())
    summary = f"{status_word}: {incident.title}"
    if not resolved and value is not None:
        summary += f", {format_value(value, unit)} vs {comparison} {format_value(threshold, unit)} since {minute_utc(began)}"
    if resolved:
        summary += f" after {format_duration(duration_s)}"
    return {
        "kind": kind,
        "status_word": status_word,
        "incident_id": incident.pk,
        "state": IncidentStatus.RESOLVED if resolved else incident.status,
        "severity": incident.severity,
        "title": incident.title,
        "summary": summary,
        "rule": rule.name if rule is not None else (flip.rule_name if flip is not None else ""),
        "signal": signal,
        "function": function_info,
        "scope": where,
        "value": value,
        "threshold": threshold,
        "comparison": comparison,
        "unit": unit,
        "since": iso_utc(began),
        "resolved_at": iso_utc(incident.resolved_at or now) if resolved else None,
        "duration_s": duration_s,
        "diagnosis": diagnosis,
        "links": links,
        "facts": facts,
        "buttons": [b for b in buttons if b["url"]],
        "footer": f"Incident #{incident.pk} · rendered {minute_utc(now)}",
    }


def test_payload(*, channel: Channel, user=None, now: datetime | None = None) -> dict:
    """What "send test notification" sends: the shape of a real one, saying it is a test."""
    now = now or timezone.now()
    who = getattr(user, "username", "") or "someone"
    channels = absolute(reverse("channels"))
    return {
        "kind": NotificationKind.TEST, "status_word": "TEST", "incident_id": None, "state": "test",
        "severity": "info", "title": f"Test notification for channel {channel.name}",
        "summary": f"TEST: {who} checked that channel {channel.name} reaches you",
        "rule": "", "signal": "", "function": None, "scope": "", "value": None, "threshold": None,
        "comparison": "", "unit": "", "since": iso_utc(now), "resolved_at": None, "duration_s": None,
        "diagnosis": [{"key": "test", "text": "Nothing is wrong: this message only checks the channel.", "url": channels}],
        "links": {"channels": channels},
        "facts": [("Sent by", who), ("At", minute_utc(now))],
        "buttons": [{"label": "Channels", "url": channels}],
        "footer": "Lambda Ops test notification",
    }
