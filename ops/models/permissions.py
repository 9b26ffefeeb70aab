"""What the permission check last learnt: one row per account × region × IAM action."""

from __future__ import annotations

from django.db import models

from ops.models.choices import PermissionState
from ops.models.inventory import Account


class PermissionCheck(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="permission_checks")
    region = models.CharField(max_length=32)
    action = models.CharField(max_length=128)  # the IAM action, e.g. "cloudtrail:LookupEvents"
    state = models.CharField(max_length=16, choices=PermissionState.choices)
    code = models.CharField(max_length=128, blank=True)  # AWS's error code, when it answered one
    message = models.TextField(blank=True)  # AWS's words (denied) or why it was not checked
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "region", "action"]
        constraints = [
            # Also the index of every read: an account's table (account, region), one action's
            # verdict for the pages' "disabled because" (account, region, action).
            models.UniqueConstraint(fields=["account", "region", "action"], name="permissioncheck_natural_key"),
        ]
        indexes = [
            # The status page's "what is denied anywhere": a small partial index on the rows that
            # are not granted, which are few.
            models.Index(fields=["state"], name="permissioncheck_problems", condition=~models.Q(state="granted")),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.state} ({self.account_id}/{self.region})"
