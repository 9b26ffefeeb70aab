"""The DLQ poller: each known DLQ's depth (the truth) and a peek at its messages, per account×region.

A run, per DLQ of the scope (a queue linked to a function as its Lambda DLQ, on-failure
destination or event-source queue's DLQ):
1. reads the depth — visible, in flight, delayed — with GetQueueAttributes: the truth, which the
   AWS/SQS metric is not (absent on a quiet queue or an endpoint that does not publish it);
2. peeks (ops.aws.sqs.queue_peek: receive, then hand every message back) unless there is
   nothing visible, the budget is 0, or it is a FIFO queue with messages in flight (a consumer is
   active, and a receive would hold its message groups for the visibility timeout);
3. stores every message seen by (queue, message id) — first seen, last seen, receive count —
   and counts the ids never stored before as arrivals, so messages that came and went between
   two polls' depths still count;
4. only when the peek was complete (the last receive came back empty, it saw at least the
   depth, nothing was in flight) marks the stored messages it did not see as gone;
5. writes one DlqSnapshot (the depth chart, arrivals per hour) and the queue's latest depth.
A queue that fails (deleted, AccessDenied) is recorded on its row and as a shortfall of the run;
the other queues are still read. Its stored messages are kept. So is a queue whose messages the
database refuses: step 5's transaction rolls back that queue alone, and the reason recorded never
quotes the database's error, which can hold a message body (customer data).
"""

from __future__ import annotations

import math
from collections import defaultdict

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ops.aws import sqs as aws_sqs
from ops.aws.errors import AwsError
from ops.models import DLQ_ROLES, DlqMessage, DlqSnapshot, FunctionQueue, Queue
from ops.pollers.base import PollContext
from ops.pollers.dlq.parse import message_parse

# One bulk upsert per this many messages (a 1,000-message peek of 256 KiB bodies is 256 MB).
_STORE_CHUNK = 100


def dlq_queues(*, account, region: str) -> list[tuple[Queue, set[str]]]:
    """The scope's DLQs with the roles they play (one query)."""
    roles: dict[int, set[str]] = defaultdict(set)
    queues: dict[int, Queue] = {}
    links = FunctionQueue.objects.filter(
        queue__account=account, queue__region=region, queue__gone_at=None, role__in=DLQ_ROLES
    ).select_related("queue").order_by("queue_id")
    for link in links:
        queues[link.queue_id] = link.queue
        roles[link.queue_id].add(link.role)
    return [(q, roles[pk]) for pk, q in queues.items()]


def dlq_poll(ctx: PollContext) -> None:
    last_error: AwsError | None = None
    for queue, roles in dlq_queues(account=ctx.account, region=ctx.region):
        try:
            queue_poll(ctx, queue=queue, roles=roles)
        except AwsError as err:
            when = timezone.now()
            why = ("the queue no longer exists in AWS" if aws_sqs.queue_missing(err) else err.code) + f": {err.message}"
            Queue.objects.filter(pk=queue.pk).update(dlq_error=why[:300], dlq_error_at=when)
            ctx.shortfall(f"DLQ {queue.name}: {why}"[:500])
            last_error = err
            continue
        except DatabaseError as err:
            # queue_poll's transaction has rolled this queue back (a savepoint inside a caller's);
            # the error's own text is not recorded: Postgres quotes the refused value.
            why = _database_refusal(err)
            Queue.objects.filter(pk=queue.pk).update(dlq_error=why[:300], dlq_error_at=timezone.now())
            ctx.shortfall(f"DLQ {queue.name}: {why}"[:500])
            continue
        ctx.items += 1
    if last_error is not None and ctx.items == 0:
        # No DLQ of the scope could be read: the run failed (its status shows the AWS code);
        # each queue's row already says why.
        raise last_error


def _database_refusal(err: DatabaseError) -> str:
    sqlstate = getattr(err.__cause__, "sqlstate", None)
    code = f"{type(err).__name__}, SQLSTATE {sqlstate}" if sqlstate else type(err).__name__
    return (f"the database refused this poll's messages ({code}); nothing from this poll was kept, "
            "the stored messages and depth are as the last good poll left them")


def queue_poll(ctx: PollContext, *, queue: Queue, roles: set[str]) -> DlqSnapshot:
    """Read one DLQ (steps 1–5 of the module's docstring)."""
    url = queue.url
    if not url:
        url = aws_sqs.queue_url(ctx.scope, queue.arn)
        Queue.objects.filter(pk=queue.pk).update(url=url)
    depth = aws_sqs.queue_depth(ctx.scope, url)
    budget = settings.DLQ_PEEK_MAX_MESSAGES
    note, peek = "", None
    if depth.visible == 0:
        note = "nothing visible to peek"
    elif budget <= 0:
        note = "peeking is off (DLQ_PEEK_MAX_MESSAGES=0)"
    elif queue.fifo and depth.in_flight:
        note = (f"FIFO queue with {depth.in_flight:,} message(s) in flight: a consumer is active and a receive would "
                "hold its message groups, so this poll did not peek")
    else:
        hold = settings.DLQ_PEEK_HOLD_SECONDS
        visibility = settings.DLQ_PEEK_VISIBILITY_SECONDS
        if queue.fifo:
            # The shortest timeout that outlasts the hold: a receive blocks the group until then.
            visibility = min(visibility, max(1, math.ceil(hold) + 1))
        peek = aws_sqs.queue_peek(ctx.scope, url, max_messages=budget, visibility_s=visibility, hold_s=hold)
    seen = list(peek.messages) if peek else []
    drained = peek.drained if peek else depth.visible == 0
    complete = drained and len(seen) >= depth.visible and depth.in_flight == 0
    if peek and not complete:
        why = peek.stopped
        if depth.in_flight:
            why += f"; {depth.in_flight:,} in flight were not visible to it"
        note = f"partial peek: saw {len(seen):,} of {depth.visible:,} visible ({why}); nothing marked gone"
    if peek and peek.release_failures:
        ctx.warn(f"DLQ {queue.name}: {peek.release_failures} message(s) could not be handed back at once "
                 "(deleted meanwhile, or they return when the visibility timeout ends)")
    if queue.fifo and peek:
        note = (note + "; " if note else "") + "FIFO: the peek held each message group it read for up to " \
            f"{settings.DLQ_PEEK_HOLD_SECONDS:g} s"
    now = timezone.now()
    with transaction.atomic():
        arrivals = _messages_store(queue=queue, roles=roles, seen=seen, now=now)
        gone = 0
        if complete:
            gone = (
                DlqMessage.objects.filter(queue=queue, gone_at=None)
                .exclude(message_id__in=[m.message_id for m in seen])
                .update(gone_at=now)
            )
        present = DlqMessage.objects.filter(queue=queue, gone_at=None, sent_at__isnull=False)
        if not complete:
            present = present.filter(message_id__in=[m.message_id for m in seen])
        oldest = present.order_by("sent_at").values_list("sent_at", flat=True).first()
        snapshot = DlqSnapshot.objects.create(
            queue=queue, at=now, visible=depth.visible, in_flight=depth.in_flight, delayed=depth.delayed,
            seen=len(seen), arrivals=arrivals, gone=gone, complete=complete,
        )
        Queue.objects.filter(pk=queue.pk).update(
            depth_at=now, depth_visible=depth.visible, depth_in_flight=depth.in_flight, depth_delayed=depth.delayed,
            oldest_sent_at=oldest if depth.visible else None, peek_at=now if peek else queue.peek_at,
            peek_seen=len(seen) if peek else queue.peek_seen, peek_complete=complete, peek_note=note[:300],
            dlq_error="", dlq_error_at=None,
        )
    return snapshot


def _messages_store(*, queue: Queue, roles: set[str], seen, now) -> int:
    """Upsert the peeked messages on (queue, message id); returns how many were new."""
    if not seen:
        return 0
    ids = [m.message_id for m in seen]
    known = set(DlqMessage.objects.filter(queue=queue, message_id__in=ids).values_list("message_id", flat=True))
    rows = []
    for m in seen:
        p = message_parse(body=m.body, attributes=m.attributes, message_attributes=m.message_attributes, roles=roles)
        rows.append(DlqMessage(
            queue=queue, message_id=m.message_id[:100], body=m.body, body_text=p.body_text, body_json=p.body_json,
            body_size=len(m.body), md5_of_body=m.md5_of_body[:32], shape=p.shape, attributes=m.attributes,
            message_attributes=m.message_attributes, request_id=p.request_id, function_arn=p.function_arn,
            condition=p.condition, approximate_invoke_count=p.approximate_invoke_count, error_code=p.error_code,
            error_type=p.error_type, error_message=p.error_message, group_signature=p.group_signature,
            replayable=p.replayable, receive_count=p.receive_count, sent_at=p.sent_at, first_seen_at=now,
            last_seen_at=now, gone_at=None,
        ))
    for i in range(0, len(rows), _STORE_CHUNK):
        DlqMessage.objects.bulk_create(
            rows[i:i + _STORE_CHUNK],
            update_conflicts=True,
            unique_fields=["queue", "message_id"],
            # first_seen_at and the body stay as first stored; a message seen again is present again
            update_fields=["receive_count", "last_seen_at", "gone_at", "attributes"],
        )
    return len(set(ids) - known)
