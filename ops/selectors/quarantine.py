"""The read side of what the pollers set aside (ops.models.Quarantine), for the status page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ops.models import PollSource, Quarantine, QuarantineReason


@dataclass(frozen=True)
class QuarantineReasonCount:
    reason: str
    label: str
    count: int
    last_seen: datetime
    samples: list  # newest first: {"at", "where", "detail", "raw"}


@dataclass(frozen=True)
class QuarantineScope:
    account: str
    region: str
    source: str
    source_label: str
    total: int
    last_seen: datetime
    reasons: list[QuarantineReasonCount]


def quarantine_by_scope() -> list[QuarantineScope]:
    """Per account × region × source, the items set aside with their counts by reason (one query)."""
    rows = Quarantine.objects.select_related("account").filter(count__gt=0).order_by("account__name", "region", "source", "-count")
    scopes: dict[tuple[str, str, str], list[Quarantine]] = {}
    for q in rows:
        scopes.setdefault((q.account.name, q.region, q.source), []).append(q)
    labels = dict(QuarantineReason.choices)
    sources = dict(PollSource.choices)
    return [
        QuarantineScope(
            account=account,
            region=region,
            source=source,
            source_label=sources.get(source, source),
            total=sum(q.count for q in qs),
            last_seen=max(q.last_seen for q in qs),
            reasons=[
                QuarantineReasonCount(q.reason, labels.get(q.reason, q.reason), q.count, q.last_seen, list(q.samples or []))
                for q in qs
            ],
        )
        for (account, region, source), qs in scopes.items()
    ]
