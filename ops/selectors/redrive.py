"""Reads for redrive: which stored DLQ messages a selection means, where they would go, a
preview for the confirm page, and a job's per-message states for its panel.

Selection by text and JSON path belongs to the DLQ search (ops.selectors.dlq's
``dlq_messages_matching``); until it is here, ``redrive_messages`` selects by what the stored
rows carry (explicit ids, error group, sent window, a plain text match) in one place, so the
switch is one function body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min, Q, QuerySet

from ops.models import DlqMessage, Function, FunctionQueue, Job, Queue, QueueRole, RedriveItem, RedriveItemState
from ops.selectors.dlq import dlq_messages_matching
from ops.selectors.dlq_search import CriteriaError

# How many messages the confirm page shows as a sample.
PREVIEW_SAMPLE = 5
# Characters of a body the sample shows.
BODY_PREVIEW_CHARS = 160


class RedriveSelectionError(ValueError):
    """A selection that cannot be made (a criterion this build cannot search by)."""


@dataclass(frozen=True)
class RedriveSelection:
    """Which of a DLQ's stored (still present) messages: no criterion at all means every one."""

    ids: tuple[str, ...] = ()
    group: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    json_path: str = ""
    # The highest DlqMessage id the confirm page's preview saw: the selection is frozen there, so
    # a message stored after the operator looked (a new arrival in the same group) is not acted
    # on. Not a criterion of its own (``everything`` ignores it); None: not frozen.
    upto: int | None = None

    @property
    def everything(self) -> bool:
        return not (self.ids or self.group or self.since or self.until or self.text or self.json_path)

    def as_params(self) -> dict:
        return {
            "ids": list(self.ids),
            "group": self.group,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "text": self.text,
            "json_path": self.json_path,
            "upto": self.upto,
        }

    @classmethod
    def from_params(cls, data: dict) -> "RedriveSelection":
        return cls(
            ids=tuple(data.get("ids") or ()),
            group=data.get("group") or "",
            since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
            text=data.get("text") or "",
            json_path=data.get("json_path") or "",
            upto=int(data["upto"]) if data.get("upto") is not None else None,
        )

    def describe(self) -> str:
        if self.everything:
            return "every message in the queue"
        parts = []
        if self.ids:
            parts.append(f"{len(self.ids)} chosen message{'s' if len(self.ids) != 1 else ''}")
        if self.group:
            parts.append(f"error group {self.group[:10]}")
        if self.since or self.until:
            since = f"{self.since:%Y-%m-%d %H:%M}" if self.since else "the first"
            until = f"{self.until:%H:%M}" if self.until else "now"
            parts.append(f"sent {since}–{until} UTC")
        if self.text:
            parts.append(f"containing “{self.text}”")
        if self.json_path:
            parts.append(f"matching {self.json_path}")
        return ", ".join(parts)


def redrive_messages(*, queue: Queue, selection: RedriveSelection) -> QuerySet[DlqMessage]:
    """The stored messages of ``queue`` that ``selection`` names and the last peek still saw,
    oldest first: the DLQ search (ops.selectors.dlq.dlq_messages_matching: text, JSON path,
    error group, sent-time window), narrowed to the chosen ids when there are any."""
    try:
        qs = dlq_messages_matching(queue=queue, text=selection.text, json_path=selection.json_path,
                                   group=selection.group, since=selection.since, until=selection.until)
    except CriteriaError as err:
        raise RedriveSelectionError(str(err)) from err
    if selection.ids:
        qs = qs.filter(message_id__in=selection.ids)
    if selection.upto is not None:
        qs = qs.filter(pk__lte=selection.upto)  # ids grow as the poller stores new messages
    return qs.order_by("sent_at", "id")


@dataclass(frozen=True)
class RedriveTarget:
    """Where a DLQ's messages go back to."""

    kind: str  # "queue": re-send to the source queue; "invoke": re-invoke the function; "" none
    role: str
    description: str
    function: Function | None = None
    source_queue: Queue | None = None
    # SQS's own move task can take the whole queue (an event source queue's DLQ only).
    move_available: bool = False

    @property
    def possible(self) -> bool:
        return bool(self.kind)


def redrive_target(*, queue: Queue) -> RedriveTarget:
    """A DLQ's way back: the queue whose RedrivePolicy names it, else the function it is the
    async DLQ or on-failure destination of (two queries)."""
    source = Queue.objects.filter(dlq_arn=queue.arn, gone_at__isnull=True).exclude(pk=queue.pk).order_by("name").first()
    if source is not None:
        return RedriveTarget(
            kind="queue",
            role=QueueRole.SOURCE_DLQ,
            description=f"re-sent to {source.name}, the queue whose redrive policy names this DLQ",
            source_queue=source,
            move_available=True,
        )
    link = (
        FunctionQueue.objects.filter(queue=queue, role__in=(QueueRole.LAMBDA_DLQ, QueueRole.ON_FAILURE))
        .select_related("function")
        .order_by("role", "function__name")
        .first()
    )
    if link is not None:
        what = "async DLQ" if link.role == QueueRole.LAMBDA_DLQ else "on-failure destination"
        return RedriveTarget(
            kind="invoke",
            role=link.role,
            description=(
                f"re-invoked asynchronously on {link.function.name} (this queue is its {what}): unqualified, "
                "unless an invocation record names the version or alias that failed"
            ),
            function=link.function,
        )
    return RedriveTarget(kind="", role="", description="nowhere: no queue or function is known to send failures here")


@dataclass(frozen=True)
class RedrivePreview:
    count: int
    replayable: int
    first_sent: datetime | None
    last_sent: datetime | None
    sample: list = field(default_factory=list)
    # The highest stored id among them, which freezes the selection (RedriveSelection.upto).
    last_pk: int | None = None

    @property
    def not_replayable(self) -> int:
        return self.count - self.replayable


def redrive_preview(*, queue: Queue, selection: RedriveSelection) -> RedrivePreview:
    """How many, how many can be replayed, their sent window, the highest id, and a sample (two queries)."""
    qs = redrive_messages(queue=queue, selection=selection)
    agg = qs.order_by().aggregate(
        n=Count("id"), replayable=Count("id", filter=Q(replayable=True)), first=Min("sent_at"), last=Max("sent_at"),
        last_pk=Max("id"),
    )
    sample = list(
        qs.only("message_id", "sent_at", "error_type", "error_message", "body_text", "body_size", "shape", "replayable")[:PREVIEW_SAMPLE]
    )
    for m in sample:
        m.body_preview = m.body_text[:BODY_PREVIEW_CHARS] + ("…" if len(m.body_text) > BODY_PREVIEW_CHARS else "")
    return RedrivePreview(count=agg["n"], replayable=agg["replayable"], first_sent=agg["first"], last_sent=agg["last"], sample=sample,
                          last_pk=agg["last_pk"])


def redrive_item_counts(*, job: Job) -> dict[str, int]:
    """A job's messages per state, every state present (one query)."""
    counts = {state: 0 for state in RedriveItemState.values}
    for row in RedriveItem.objects.filter(job=job).order_by().values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts


def redrive_items_unfinished(*, job: Job, limit: int = 100) -> list[RedriveItem]:
    """The messages that were not redriven, with their reasons: failed first, then left (one query)."""
    qs = RedriveItem.objects.filter(job=job, state__in=(RedriveItemState.FAILED, RedriveItemState.LEFT))
    return list(qs.order_by("state", "id")[:limit])  # "failed" sorts before "left"


__all__ = [
    "RedrivePreview",
    "RedriveSelection",
    "RedriveSelectionError",
    "RedriveTarget",
    "redrive_item_counts",
    "redrive_items_unfinished",
    "redrive_messages",
    "redrive_preview",
    "redrive_target",
]
