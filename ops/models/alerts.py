"""Alerts: rules, their per-function state, the state changes (flips), incidents, channels and
the notification outbox.

- ``AlertRule``: a signal × scope × comparison and threshold × M of N one-minute windows ×
  treat-missing-data, a severity and channels. ``builtin`` names a rule of the default pack
  (ops.alerts.pack), which applies to every function from its first poll.
- ``AlertState``: one row per rule × function (or rule × scope for rules not about one
  function), the evaluator's current verdict; written by the evaluator only.
- ``AlertFlip``: every state change, appended by the evaluator in the same transaction that
  moves ``AlertState``; the incident processor claims each one exactly once with a conditional
  UPDATE on ``processed_at`` (STYLE rule 8), so two evaluators never open two incidents or
  notify twice.
- ``Incident``: a function's trouble, from the first firing rule to the last one resolved;
  repeats and related rules on the same function group into it. ``IncidentEvent`` is its
  timeline (fired, notified, acknowledged, muted, actions, resolved), appended, never updated.
- ``Channel``: where notifications go (Slack webhook, email recipients, JSON webhook). The
  target is a secret: pages show ``target_hint`` only, logs never the target.
- ``Notification``: the outbox. Written before anything is sent, with an idempotency key per
  incident × state × channel (``<incident>:<kind>:<seq>:<channel>``); a sender claims a due row
  by conditional UPDATE; ``DeliveryAttempt`` records every try.
- ``AlertTick``: one evaluation run (for the status page's evaluation lag and last tick).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ops.models.choices import (
    AlertComparison,
    AlertScope,
    AlertSeverity,
    AlertSignal,
    AlertStateName,
    ChannelKind,
    IncidentEventKind,
    IncidentStatus,
    MissingData,
    NotificationKind,
    NotificationState,
)
from ops.models.inventory import Account, Alias, Function
from ops.models.jobs import Job


class Channel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # Slack/webhook: the URL; email: comma-separated recipients. Never rendered or logged in
    # full: target_hint (e.g. "https://hooks.slack.com/…/XyZ9") is what pages show.
    target = models.TextField()
    target_hint = models.CharField(max_length=120, blank=True)
    enabled = models.BooleanField(default=True)
    # Set when a permanent error (404, 410, invalid token, refused recipient) disabled it.
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AlertRule(models.Model):
    name = models.CharField(max_length=120)
    signal = models.CharField(max_length=32, choices=AlertSignal.choices)
    scope = models.CharField(max_length=16, choices=AlertScope.choices, default=AlertScope.ALL)
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    region = models.CharField(max_length=32, blank=True)
    tag_key = models.CharField(max_length=128, blank=True)
    tag_value = models.CharField(max_length=256, blank=True)
    comparison = models.CharField(max_length=4, choices=AlertComparison.choices, default=AlertComparison.GT)
    threshold = models.FloatField()
    # For a ratio signal, the least volume in the window for it to count (the error rate's
    # errors, the cold-start rate's REPORT lines), as ops.rules.signals' Threshold.min_volume:
    # 1 failed call of 3 is not a 33 % error rate worth a page. None: no floor.
    min_volume = models.FloatField(null=True, blank=True)
    # Fires when at least `windows_m` of the last `windows_n` one-minute windows breach.
    windows_m = models.PositiveSmallIntegerField(default=3)
    windows_n = models.PositiveSmallIntegerField(default=5)
    missing_data = models.CharField(max_length=16, choices=MissingData.choices, default=MissingData.MISSING)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    enabled = models.BooleanField(default=True)
    builtin = models.CharField(max_length=64, blank=True)  # the default pack's key; "" for one made here
    # Grouping and repeat, Alertmanager's defaults (group_wait 30 s, group_interval 5 min,
    # repeat_interval 4 h).
    group_wait_s = models.PositiveIntegerField(default=30)
    group_interval_s = models.PositiveIntegerField(default=300)
    repeat_interval_s = models.PositiveIntegerField(default=4 * 3600)
    # Opt-in automatic rollback: when this rule fires within `auto_rollback_minutes` of a deploy
    # of `auto_rollback_alias`, roll that alias back (the rollback job, same guard).
    auto_rollback_alias = models.ForeignKey(
        Alias, null=True, blank=True, on_delete=models.SET_NULL, related_name="auto_rollback_rules"
    )
    auto_rollback_minutes = models.PositiveIntegerField(default=30)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # the default pack is installed idempotently by its key
            models.UniqueConstraint(fields=["builtin"], condition=~Q(builtin=""), name="alertrule_builtin_key"),
        ]

    def __str__(self) -> str:
        return self.name


class AlertState(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    # Null for a rule not about one function (region headroom, a poller failing): one state per
    # `scope_key` then ("<account_id>:<region>" or "<source>:<account_id>:<region>").
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_states")
    scope_key = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, choices=AlertStateName.choices, default=AlertStateName.OK)
    since = models.DateTimeField()  # when it entered this state
    value = models.FloatField(null=True, blank=True)  # the newest window's value
    breaching = models.PositiveSmallIntegerField(default=0)  # of the last N windows
    # End of the newest window judged, refreshed with the state, value or breaching count (an
    # unchanged row is not rewritten every tick); AlertTick.data_until is the tick-wide mark.
    evaluated_until = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "function", "scope_key"], name="alertstate_natural_key",
                                    nulls_distinct=False),
        ]
        indexes = [
            # the function page's "rules firing now": WHERE function_id = %s AND state <> 'ok'
            models.Index(fields=["function"], condition=~Q(state=AlertStateName.OK), name="alertstate_fn_active_idx"),
        ]


class AlertFlip(models.Model):
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="flips")
    rule_name = models.CharField(max_length=120)  # kept when the rule is deleted
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_flips")
    scope_key = models.CharField(max_length=200, blank=True)
    old_state = models.CharField(max_length=16, choices=AlertStateName.choices)
    new_state = models.CharField(max_length=16, choices=AlertStateName.choices)
    at = models.DateTimeField()  # the end of the window that decided it (data time, not wall time)
    created_at = models.DateTimeField(auto_now_add=True)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING)
    processed_at = models.DateTimeField(null=True, blank=True)  # claimed by the incident processor
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="flips")

    class Meta:
        ordering = ["id"]
        indexes = [
            # the incident processor: WHERE processed_at IS NULL ORDER BY id; partial, so it holds
            # only the few unclaimed rows.
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="alertflip_unprocessed_idx"),
        ]


class Incident(models.Model):
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.CASCADE, related_name="incidents")
    scope_key = models.CharField(max_length=200, blank=True)  # for incidents not about one function
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING)
    began_at = models.DateTimeField()  # the onset (data time), which may precede the first flip
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_name = models.CharField(max_length=150, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    muted_by_name = models.CharField(max_length=150, blank=True)
    # The diagnosis lines (ops.alerts.diagnosis) as last assembled: [{"key", "text", "url"}].
    diagnosis = models.JSONField(default=list, blank=True)
    diagnosed_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every firing/resolve notification round: part of the outbox idempotency key.
    notify_seq = models.PositiveIntegerField(default=0)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # one open incident per function (or per scope key): repeats group into it
            models.UniqueConstraint(fields=["function", "scope_key"], condition=Q(status=IncidentStatus.OPEN),
                                    name="incident_one_open_per_function", nulls_distinct=False),
        ]
        indexes = [
            # the incidents page: WHERE status = %s ORDER BY opened_at DESC
            models.Index(fields=["status", "-opened_at"], name="incident_status_opened_idx"),
            # a function's incidents: WHERE function_id = %s ORDER BY opened_at DESC
            models.Index(fields=["function", "-opened_at"], name="incident_fn_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"incident #{self.pk} {self.title}"


class IncidentEvent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=24, choices=IncidentEventKind.choices)
    text = models.TextField()
    actor_name = models.CharField(max_length=150, blank=True)
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="incident_events")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        # The incident FK's own index serves "an incident's timeline" (WHERE incident_id ORDER BY at, id).
        ordering = ["at", "id"]
        constraints = [
            # a job is linked to an incident once, however many times the linker runs
            models.UniqueConstraint(fields=["incident", "job"], condition=Q(job__isnull=False),
                                    name="incidentevent_one_per_job"),
        ]


class Notification(models.Model):
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    idempotency_key = models.CharField(max_length=128, unique=True)
    # The rendered message, fixed when written (what was true when it was decided to send).
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=NotificationState.choices, default=NotificationState.PENDING)
    due_at = models.DateTimeField()  # the next attempt's time (group wait, backoff)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)  # a sender's claim; stale ones are retaken
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the sender: WHERE state IN ('pending', 'sending') AND due_at <= now ORDER BY due_at;
            # partial, so it holds only what is still to send.
            models.Index(fields=["due_at"], condition=Q(state__in=[NotificationState.PENDING, NotificationState.SENDING]),
                         name="notification_due_idx"),
        ]


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempts_log")
    at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    transient = models.BooleanField(default=True)  # for a failure: will it be retried
    error = models.TextField(blank=True)  # never holds the target URL

    class Meta:
        ordering = ["at", "id"]


class AlertTick(models.Model):
    """One evaluator run: the status page shows the last tick and the evaluation lag."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    data_until = models.DateTimeField(null=True, blank=True)  # newest minute the tick judged
    rules = models.PositiveIntegerField(default=0)
    states = models.PositiveIntegerField(default=0)
    flips = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # "the last tick": ORDER BY started_at DESC LIMIT 1
        indexes = [models.Index(fields=["-started_at"], name="alerttick_started_idx")]
