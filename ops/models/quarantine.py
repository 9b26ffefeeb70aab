"""What the pollers set aside: per scope × source × reason, a count and a few samples.

One bad item (a log line, a function) never stops its scope: the poller stores the rest and
tallies the item here. A row is bounded whatever arrives: ``samples`` keeps the newest few
(truncated, sanitised) and ``recent_keys`` the keys of the few hundred newest items, so re-reading
the same window (the logs poller re-reads a trailing lookback every run) does not count an item twice.
"""

from __future__ import annotations

from django.db import models

from ops.models.choices import PollSource, QuarantineReason
from ops.models.inventory import Account


class Quarantine(models.Model):
    source = models.CharField(max_length=16, choices=PollSource.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="quarantines")
    region = models.CharField(max_length=32)
    reason = models.CharField(max_length=16, choices=QuarantineReason.choices)
    count = models.BigIntegerField(default=0)  # distinct items (by key) set aside
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # newest first: [{"at": iso, "key": str, "where": str, "detail": str, "raw": str ≤ 500 chars}]
    samples = models.JSONField(default=list, blank=True)
    recent_keys = models.JSONField(default=list, blank=True)  # "<item epoch ms>:<key hash>", oldest first, bounded

    class Meta:
        ordering = ["account__name", "region", "source", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["source", "account", "region", "reason"], name="quarantine_natural_key")
        ]
