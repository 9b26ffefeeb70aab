"""Deploys and configuration changes as CloudTrail tells them: exact time, actor, what changed.

One row per CloudTrail event (its EventId is the natural key), written by the changes poller.
An alias event is also the deploy marker: it is merged with the inventory's AliasChange row
(``alias_change``), whose time it makes exact.
"""

from __future__ import annotations

from django.db import models

from ops.models.choices import ChangeKind
from ops.models.inventory import Account, AliasChange, Function


class Change(models.Model):
    event_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="changes")
    region = models.CharField(max_length=32)
    # Null until the inventory knows the function (a change to a function created moments ago).
    function = models.ForeignKey(Function, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes")
    function_name = models.CharField(max_length=140)
    at = models.DateTimeField()  # the event's own time
    event_name = models.CharField(max_length=64)  # without the API version suffix: UpdateAlias
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    qualifier = models.CharField(max_length=128, blank=True)  # alias name or version
    actor_arn = models.CharField(max_length=512, blank=True)
    actor = models.CharField(max_length=256, blank=True)  # role/deploy-bot, user/alice, codedeploy.amazonaws.com
    tool = models.CharField(max_length=32, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    before = models.JSONField(default=dict, blank=True)  # where known: what the inventory had
    after = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=256)
    alias_change = models.OneToOneField(
        AliasChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="cloudtrail"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)  # when Lambda Ops learnt of it

    class Meta:
        ordering = ["-at"]
        indexes = [
            # the function page's change list: one function's changes in a time range
            models.Index(fields=["function", "at"], name="change_fn_at_idx"),
            # the poller's merge step: alias events not yet tied to an AliasChange
            models.Index(
                fields=["account", "region", "at"],
                name="change_alias_unmerged_idx",
                condition=models.Q(kind=ChangeKind.ALIAS, alias_change=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.function_name} {self.event_name} {self.at:%Y-%m-%d %H:%M:%S}"
