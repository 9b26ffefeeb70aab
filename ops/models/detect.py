"""Detection triggers: an account × region's aggregate Lambda metrics rose against their own
baseline (ops.rules.trigger), so that scope's busy functions are read every minute while it lasts.

One row per episode and signal: opened at the first breaching minute, ``last_breach_at`` moves
with every breaching minute, ``released_at`` is set once no minute has breached for the
cool-down (DETECT_COOLDOWN_SECONDS) — only then do the functions go back to their usual cadence.
"""

from __future__ import annotations

from django.db import models

from ops.models.choices import AggregateSignal
from ops.models.inventory import Account


class DetectTrigger(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="detect_triggers", db_index=False)
    region = models.CharField(max_length=32)
    signal = models.CharField(max_length=24, choices=AggregateSignal.choices)
    started_at = models.DateTimeField()  # start of the first breaching minute
    last_breach_at = models.DateTimeField()  # start of the latest breaching minute
    released_at = models.DateTimeField(null=True, blank=True)  # cool-down over; NULL while active
    value = models.FloatField()  # the highest breaching value seen (count per minute, or a ratio)
    baseline = models.FloatField()  # the baseline it was judged against (median, or the hour's ratio)
    threshold = models.FloatField()  # what the value had to reach

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # one active trigger per scope × signal; also serves the poller's read of the scope's
            # active triggers each run (account, region, released_at IS NULL)
            models.UniqueConstraint(
                fields=["account", "region", "signal"],
                condition=models.Q(released_at=None),
                name="detecttrigger_one_active",
            )
        ]
        indexes = [
            # status page: the recent triggers of every scope, newest first
            models.Index(fields=["-started_at"], name="detecttrigger_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.region} {self.signal} from {self.started_at:%H:%M}"

    @property
    def active(self) -> bool:
        return self.released_at is None
