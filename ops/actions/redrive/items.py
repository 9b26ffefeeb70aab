"""Step 1 of a loop job: one RedriveItem per selected message, written before any is touched."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ops.actions.runner import JobContext, JobFailed
from ops.models import Queue, RedriveItem, RedriveItemState
from ops.selectors.redrive import RedriveSelection, redrive_messages

REASON_STREAM = "a stream record (shard positions, no payload): nothing to re-deliver; still in the DLQ"
PENDING = RedriveItemState.PENDING


def items_prepare(ctx: JobContext, *, queue: Queue, selection: RedriveSelection, delete: bool) -> int:
    """Step 1: one item per selected message, and the job's total, in one transaction. Returns the total."""
    job = ctx.job
    existing = RedriveItem.objects.filter(job=job).count()
    if existing:
        return existing
    limit = settings.REDRIVE_MAX_MESSAGES
    rows = list(redrive_messages(queue=queue, selection=selection).values_list("pk", "message_id", "replayable")[: limit + 1])
    if len(rows) > limit:
        raise JobFailed(f"the selection holds more than {limit:,} messages (REDRIVE_MAX_MESSAGES); narrow it")
    items = []
    for pk, message_id, replayable in rows:
        left = not delete and not replayable
        items.append(
            RedriveItem(
                job=job,
                queue=queue,
                stored_message_id=pk,
                message_id=message_id,
                state=RedriveItemState.LEFT if left else PENDING,
                reason=REASON_STREAM if left else "",
            )
        )
    with transaction.atomic():
        RedriveItem.objects.bulk_create(items, batch_size=2000, ignore_conflicts=True)
        left = sum(1 for i in items if i.state == RedriveItemState.LEFT)
        ctx.progress(total=len(items), done=left, failed=0)
        ctx.log(f"{len(items):,} messages selected ({selection.describe()})" + (f"; {left:,} stream records left as they are" if left else ""))
    return len(items)
