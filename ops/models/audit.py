"""The audit log: who did what to which AWS resource, with what parameters and result.

Later operator actions (redrive, rollback) and account changes write here through
``ops.services.audit.audit_record``; the log is append-only from the application.
"""

from django.conf import settings
from django.db import models

from ops.models.choices import AuditResult


class AuditEntry(models.Model):
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)  # kept when the user is deleted
    action = models.CharField(max_length=64)  # e.g. "alias.rollback", "dlq.redrive", "account.create"
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=255)  # an ARN where there is one
    target_label = models.CharField(max_length=255, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.CharField(max_length=16, choices=AuditResult.choices)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"
        # The operator permission lives here because every use of it ends up in this table.
        permissions = [("operate", "Can run operator actions (redrive, rollback)")]
        indexes = [
            # a target's timeline (function page, alias page)
            models.Index(fields=["target_id", "-at"], name="audit_target_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_label or self.target_id}"
