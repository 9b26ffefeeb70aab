"""The metrics run's detection step: judge the scope's aggregate minutes (RegionStat) with
ops.rules.trigger and keep the DetectTrigger rows current.

1. Read the scope's active triggers; while any is active the baseline ends at the earliest
   one's start (an incident must not become its own baseline).
2. Read the baseline minutes and the last EVALUATE_MINUTES minutes (two range scans on the
   natural key); judge them.
3. A signal that breaches opens a trigger at its first breaching minute, or moves an active
   one's ``last_breach_at`` and peak value.
4. An active trigger with no breach for DETECT_COOLDOWN_SECONDS after its last breaching minute
   is released: its functions go back to their usual cadence.
The run holds the scope's advisory lock, so no other run writes these rows meanwhile.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings

from ops.models import DetectTrigger, RegionStat
from ops.pollers.base import PollContext
from ops.rules import trigger

MINUTE = timedelta(minutes=1)
log = logging.getLogger(__name__)


def _rows(ctx: PollContext, start: datetime, end: datetime) -> dict[datetime, dict]:
    return {
        r["ts"]: r
        for r in RegionStat.objects.filter(account=ctx.account, region=ctx.region, ts__gte=start, ts__lt=end).values(
            "ts", *trigger.COLUMNS
        )
    }


def detect_update(ctx: PollContext, *, end: datetime) -> list[DetectTrigger]:
    """Judge the minutes before ``end`` (the last whole minute read); return the active triggers."""
    active = {t.signal: t for t in DetectTrigger.objects.filter(account=ctx.account, region=ctx.region, released_at=None)}
    recent_start = end - trigger.EVALUATE_MINUTES * MINUTE
    base_end = min([recent_start, *(t.started_at for t in active.values())])
    base_start = base_end - trigger.BASELINE_MINUTES * MINUTE
    baseline = [r for _, r in sorted(_rows(ctx, base_start, base_end).items())]
    recent_rows = _rows(ctx, recent_start, end)
    minutes = [recent_start + i * MINUTE for i in range(trigger.EVALUATE_MINUTES)]
    recent = [recent_rows.get(m, {}) for m in minutes]

    hits: dict[str, list[trigger.Breach]] = defaultdict(list)
    for b in trigger.breaches(recent=recent, baseline=baseline):
        hits[b.signal].append(b)
    for signal, found in hits.items():
        peak = max(found, key=lambda b: b.value)
        first, last = minutes[min(b.index for b in found)], minutes[max(b.index for b in found)]
        t = active.get(signal)
        if t is None:
            active[signal] = DetectTrigger.objects.create(
                account=ctx.account, region=ctx.region, signal=signal, started_at=first, last_breach_at=last,
                value=peak.value, baseline=peak.baseline, threshold=peak.threshold,
            )
            log.info("%s/%s detection: %s", ctx.account.name, ctx.region, f"{signal} rose to {peak.value:g} (baseline {peak.baseline:g}, threshold "
                     f"{peak.threshold:g}) at {first:%H:%M}; busy functions read every minute")
        elif last > t.last_breach_at or peak.value > t.value:
            t.last_breach_at = max(t.last_breach_at, last)
            t.value = max(t.value, peak.value)
            t.save(update_fields=["last_breach_at", "value"])

    cooldown = timedelta(seconds=settings.DETECT_COOLDOWN_SECONDS)
    for signal, t in list(active.items()):
        if signal not in hits and end >= t.last_breach_at + MINUTE + cooldown:
            DetectTrigger.objects.filter(pk=t.pk, released_at=None).update(released_at=end)
            del active[signal]
    return sorted(active.values(), key=lambda t: t.started_at)
