"""Jobs: an operator's (or the product's own) unit of work with a visible lifecycle.

Modelled on netbox's Job. A job names its target (account, region and, where there is one,
the resource ARN), who asked for it, with what parameters, and records how far it got
(progress counters), what came of it (result or error) and an append-only log of steps.

State changes are claimed by conditional UPDATE (see ops.actions.runner): a worker owns a job
only while ``status`` is running *and* ``attempts`` still equals the attempt it claimed, so a
worker that was presumed lost and comes back cannot overwrite what the sweeper decided.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ops.models.choices import JOB_ACTIVE, JobKind, JobLogLevel, JobStatus
from ops.models.inventory import Account


class Job(models.Model):
    kind = models.CharField(max_length=64, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)

    # The target. resource_arn is empty for a job on a whole account×region (an inventory poll).
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="jobs")
    region = models.CharField(max_length=32)
    resource_arn = models.CharField(max_length=2048, blank=True, default="")
    target_label = models.CharField(max_length=255, blank=True)

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)  # kept when the user is deleted
    parameters = models.JSONField(default=dict, blank=True)
    # A double POST (double click, a retried request) carries the same key and finds the job
    # the first one made instead of making a second.
    idempotency_key = models.CharField(max_length=64, unique=True)

    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)  # null: not known (yet)
    progress_failed = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    # How many times a worker has claimed it; the claim's fencing token (see module docstring).
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)  # last time a task was sent for it
    started_at = models.DateTimeField(null=True, blank=True)  # first claim
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one active job per target: a second "rollback this alias" while the first
            # runs is refused (ops.actions.runner.job_request returns the running one instead).
            models.UniqueConstraint(
                fields=["account", "region", "resource_arn"],
                condition=Q(status__in=JOB_ACTIVE),
                name="job_one_active_per_target",
            ),
        ]
        indexes = [
            # the status page's "last jobs of a kind": WHERE kind = %s ORDER BY created_at DESC LIMIT n
            models.Index(fields=["kind", "-created_at"], name="job_kind_created_idx"),
            # a function's timeline: WHERE resource_arn = arn OR resource_arn LIKE 'arn:%'
            # (its aliases, its queues); the pattern opclass serves the prefix LIKE whatever
            # the database's collation.
            models.Index(
                fields=["resource_arn", "created_at"],
                opclasses=["varchar_pattern_ops", "timestamptz_ops"],
                name="job_resource_created_idx",
            ),
            # the sweeper: WHERE status = 'running' AND heartbeat_at < cutoff; partial, so it
            # holds only the few running rows.
            models.Index(
                fields=["heartbeat_at"], condition=Q(status=JobStatus.RUNNING), name="job_running_heartbeat_idx"
            ),
            # the sweeper's second pass: WHERE status = 'pending' AND enqueued_at < cutoff
            models.Index(
                fields=["enqueued_at"], condition=Q(status=JobStatus.PENDING), name="job_pending_enqueued_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} {self.kind} {self.target_label or self.resource_arn} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in JOB_ACTIVE


class JobLogEntry(models.Model):
    """One step of a job, appended, never updated (the job's visible log)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_entries")
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=16, choices=JobLogLevel.choices, default=JobLogLevel.INFO)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        # The job FK's own index serves "a job's log in order" (WHERE job_id = %s ORDER BY id).
        ordering = ["id"]
        verbose_name_plural = "job log entries"

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.level} {self.message[:80]}"
