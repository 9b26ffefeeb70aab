"""The product's own redrive loop (``dlq.redrive``) and the delete of chosen messages (``dlq.delete``).

A run:
1. ``items_prepare``: once per job, write one RedriveItem per selected message (stream records,
   which carry no payload, are written as left at once) and set the job's total, in one
   transaction; a resumed run finds them and skips this;
2. receive up to 10 messages at a time, invisible for REDRIVE_VISIBILITY_SECONDS;
3. each received message is looked up among the job's open items:
   - not selected: handed back at once (visibility 0) the first time it is seen, held until the
     end of the run after that (SQS may hand the same few messages back again and again, and a
     selected message behind them would never come);
   - pending: re-delivered (SendMessageBatch to the source queue, body and message attributes
     unchanged, FIFO group id kept and a deduplication id of this job's own, see ``dedup_id``; or an async Invoke with the event, or
     the invocation record's requestPayload); transient failures are retried with backoff, and
     a message that still fails is marked failed with the reason and handed back to the DLQ;
     a re-delivered one is marked delivered (with the new id) in its own committed
     transaction *before* its DLQ copy is deleted;
   - delivered (a run resumed after a crash between the send and the delete): deleted only,
     never sent twice;
   - delete job: deleted, nothing is sent;
4. after each delete batch, the deleted items become redriven in the transaction that counts
   them on the job; between batches the loop paces itself to REDRIVE_RATE_PER_SECOND and stops
   at ``ctx.check()`` when an operator cancels (the rest are left, "cancelled");
5. when receives come back empty and nothing is in flight that could be one of ours (a lost
   worker's messages become visible again after the visibility timeout, so the loop waits for
   them), items never found are left: "not in the DLQ any more";
6. the DLQ deleted mid-run: every open item is left with that reason and the job fails.

Every item ends in exactly one of redriven, failed, left; a message is deleted from the DLQ
only after its re-delivery succeeded (or, in a delete job, because deleting is what was asked).
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ops.actions.redrive.delivery import Target, batches_by_size, invocation
from ops.actions.runner import JobCancelled, JobContext, JobFailed, JobLost
from ops.aws import lambda_actions, sqs
from ops.aws.client import Scope
from ops.aws.errors import AwsError
from ops.models import JobLogLevel, Queue, RedriveItem, RedriveItemState

log = logging.getLogger(__name__)

REASON_GONE = "not in the DLQ any more: deleted or expired elsewhere"
REASON_CANCELLED = "cancelled before its turn; still in the DLQ"
REASON_DELIVERED_GONE = "re-delivered; its DLQ copy was gone before this job could delete it"
# Backoff between tries of a re-delivery after a transient failure (seconds, doubled each try).
RETRY_BASE_S = 0.2
# How often an empty receive is followed by a depth check while waiting for in-flight messages.
EMPTY_WAIT_S = 0.5

# SQS's limit on a MessageDeduplicationId.
DEDUP_ID_MAX = 128

PENDING, DELIVERED = RedriveItemState.PENDING, RedriveItemState.DELIVERED
OPEN = (PENDING, DELIVERED)


def dedup_id(job_pk: int, message_id: str) -> str:
    """The FIFO deduplication id a re-delivery is sent with. Never the original one: within
    SQS's five-minute window a FIFO queue answers success to a repeated id and drops the
    message, and the loop would then delete the only copy. Stable for the job and message, so a
    resumed run's re-send of the same message is still deduplicated."""
    value = f"lops-{job_pk}-{message_id}"
    if len(value) <= DEDUP_ID_MAX:
        return value
    return f"lops-{job_pk}-" + hashlib.sha256(message_id.encode()).hexdigest()


class _QueueGone(Exception):
    def __init__(self, err: AwsError, which: str) -> None:
        super().__init__(str(err))
        self.err, self.which = err, which


class RedriveLoop:
    """Steps 2–6 of the module docstring for one run of one job."""

    def __init__(self, ctx: JobContext, *, scope: Scope, queue: Queue, url: str, target: Target, rate: float) -> None:
        self.ctx, self.scope, self.queue, self.url, self.target = ctx, scope, queue, url, target
        self.job = ctx.job
        self.rate = rate
        self.visibility_s = settings.REDRIVE_VISIBILITY_SECONDS
        self.attempts = settings.REDRIVE_SEND_ATTEMPTS
        rows = RedriveItem.objects.filter(job=self.job).values_list("message_id", "state", "delivered_as")
        self.open: dict[str, str] = {}
        self.delivered_as: dict[str, str] = {}
        self.done = self.failed = 0
        for message_id, state, delivered_as in rows:
            if state in OPEN:
                self.open[message_id] = state
                self.delivered_as[message_id] = delivered_as
            else:
                self.done += 1
                self.failed += state == RedriveItemState.FAILED
        self.seen_skipped: set[str] = set()
        self.held: dict[str, str] = {}  # not-selected message id → receipt handle, returned at the end
        self.sent = 0
        self.t0 = time.monotonic()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _final(self, message_ids: list[str], state: str, *, reason: str = "", from_states=OPEN) -> None:
        """Move items to a final state and count them on the job, in one transaction."""
        if not message_ids:
            return
        with transaction.atomic():
            n = RedriveItem.objects.filter(job=self.job, message_id__in=message_ids, state__in=from_states).update(
                state=state, reason=reason[:2000]
            )
            self.done += n
            self.failed += n if state == RedriveItemState.FAILED else 0
            self.ctx.progress(done=self.done, failed=self.failed)
        for i in message_ids:
            self.open.pop(i, None)

    def _failed_each(self, reasons: dict[str, str]) -> None:
        if not reasons:
            return
        with transaction.atomic():
            for message_id, reason in reasons.items():
                n = RedriveItem.objects.filter(job=self.job, message_id=message_id, state=PENDING).update(
                    state=RedriveItemState.FAILED, reason=reason[:2000], attempts=F("attempts") + 1
                )
                self.done += n
                self.failed += n
            self.ctx.progress(done=self.done, failed=self.failed)
        for i in reasons:
            self.open.pop(i, None)

    def _delivered(self, delivered: dict[str, str]) -> None:
        """Mark re-delivered items, committed before their DLQ copies are deleted."""
        now = timezone.now()
        with transaction.atomic():
            for message_id, new_id in delivered.items():
                RedriveItem.objects.filter(job=self.job, message_id=message_id, state=PENDING).update(
                    state=DELIVERED, delivered_as=new_id[:100], delivered_at=now, attempts=F("attempts") + 1
                )
            self.ctx.progress(done=self.done)  # fences the write: a worker that lost the job rolls back
        for message_id, new_id in delivered.items():
            self.open[message_id] = DELIVERED
            self.delivered_as[message_id] = new_id

    # -- AWS -------------------------------------------------------------------------------------
    def _dlq_call(self, fn, *args, **kwargs):
        """A call on the DLQ, retried when transient; the queue gone raises _QueueGone."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(self.scope, self.url, *args, **kwargs)
            except AwsError as err:
                if err.code in sqs.QUEUE_GONE_CODES:
                    raise _QueueGone(err, "DLQ") from err
                if err.permanent or attempt == self.attempts:
                    raise
                time.sleep(RETRY_BASE_S * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _release(self, handles: dict[str, str]) -> None:
        """Hand messages back to the DLQ at once; best effort (their visibility runs out anyway)."""
        items = list(handles.items())
        for start in range(0, len(items), sqs.SQS_BATCH_MAX):
            chunk = dict((str(n), h) for n, (_i, h) in enumerate(items[start : start + sqs.SQS_BATCH_MAX]))
            try:
                self._dlq_call(sqs.messages_release, chunk, visibility_s=0)
            except AwsError as err:
                log.warning("job #%s: could not hand %s messages back: %s", self.job.pk, len(chunk), err)

    def _send_once(self, messages: list[sqs.ReceivedMessage]) -> tuple[dict[str, str], dict[str, tuple[str, bool]]]:
        """One try: (message id → new id or request id, message id → (reason, permanent))."""
        ok: dict[str, str] = {}
        errors: dict[str, tuple[str, bool]] = {}
        if self.target.kind == "invoke":
            for m in messages:
                payload, qualifier = invocation(m, self.target.function)
                try:
                    result = lambda_actions.function_invoke_async(self.scope, function=self.target.function, payload=payload, qualifier=qualifier)
                except AwsError as err:
                    errors[m.message_id] = (f"Invoke failed: {err.code}: {err.message}", err.permanent)
                    continue
                if result.status == 202:
                    ok[m.message_id] = result.request_id or "accepted"
                else:
                    errors[m.message_id] = (f"Invoke answered {result.status}, not 202", False)
            return ok, errors
        for batch in batches_by_size(messages):
            entries = []
            for n, m in enumerate(batch):
                group = m.attributes.get("MessageGroupId", "") if self.target.fifo else ""
                dedup = dedup_id(self.job.pk, m.message_id) if self.target.fifo else ""
                entries.append(sqs.SendEntry(id=str(n), body=m.body, message_attributes=m.message_attributes, group_id=group, deduplication_id=dedup))
            try:
                outcome = sqs.messages_send(self.scope, self.target.url, entries)
            except AwsError as err:
                if err.code in sqs.QUEUE_GONE_CODES:
                    raise _QueueGone(err, "source queue") from err
                for m in batch:
                    errors[m.message_id] = (f"SendMessageBatch failed: {err.code}: {err.message}", err.permanent)
                continue
            for entry_id, new_id in outcome.succeeded.items():
                ok[batch[int(entry_id)].message_id] = new_id
            for f in outcome.failed:
                errors[batch[int(f.id)].message_id] = (f"SendMessage refused: {f.code}: {f.message}", f.sender_fault)
        return ok, errors

    def _deliver(self, messages: list[sqs.ReceivedMessage]) -> list[sqs.ReceivedMessage]:
        """Re-deliver with retries; returns the messages now delivered (to delete)."""
        remaining = list(messages)
        by_id = {m.message_id: m for m in messages}
        delivered: list[sqs.ReceivedMessage] = []
        last: dict[str, str] = {}
        for attempt in range(1, self.attempts + 1):
            if not remaining:
                break
            ok, errors = self._send_once(remaining)
            if ok:
                self._delivered(ok)
                delivered.extend(by_id[i] for i in ok)
            permanent = {i: reason for i, (reason, perm) in errors.items() if perm}
            self._give_back(permanent, by_id)
            last.update({i: reason for i, (reason, perm) in errors.items() if not perm})
            remaining = [by_id[i] for i, (_r, perm) in errors.items() if not perm]
            if remaining and attempt < self.attempts:
                time.sleep(RETRY_BASE_S * 2 ** (attempt - 1))
        if remaining:
            self._give_back({m.message_id: f"{last[m.message_id]} (after {self.attempts} tries)" for m in remaining}, by_id)
        self.sent += len(messages)
        return delivered

    def _give_back(self, reasons: dict[str, str], by_id: dict[str, sqs.ReceivedMessage]) -> None:
        """Failed re-deliveries: recorded with the reason, the message handed back to the DLQ."""
        if not reasons:
            return
        self._failed_each(reasons)
        self._release({i: by_id[i].receipt_handle for i in reasons})

    def _delete(self, messages: list[sqs.ReceivedMessage]) -> None:
        """Delete DLQ copies of delivered items (or of a delete job's items); deleted → redriven."""
        for start in range(0, len(messages), sqs.SQS_BATCH_MAX):
            chunk = messages[start : start + sqs.SQS_BATCH_MAX]
            handles = {str(n): m.receipt_handle for n, m in enumerate(chunk)}
            try:
                outcome = self._dlq_call(sqs.messages_delete, handles)
            except AwsError as err:
                # Not deleted; still open, so the message is deleted when it is received again.
                self.ctx.log(f"DeleteMessageBatch failed for {len(chunk)} messages ({err}); they are deleted on their next receive", level=JobLogLevel.WARNING)
                continue
            deleted = [chunk[int(i)].message_id for i in outcome.succeeded]
            self._final(deleted, RedriveItemState.REDRIVEN, reason="deleted" if self.target.kind == "delete" else "")
            for f in outcome.failed:
                message_id = chunk[int(f.id)].message_id
                if f.code in sqs.HANDLE_GONE_CODES and self.open.get(message_id) == DELIVERED:
                    continue  # received by someone else meanwhile; deleted on our next receive, or gone
                if f.code not in sqs.HANDLE_GONE_CODES:
                    self.ctx.log(f"could not delete {message_id}: {f.code}: {f.message}", level=JobLogLevel.WARNING)

    def _pace(self) -> None:
        ideal = self.t0 + self.sent / self.rate
        delay = ideal - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    # -- the loop --------------------------------------------------------------------------------
    def _handle(self, messages: list[sqs.ReceivedMessage]) -> None:
        to_send, to_delete, release = [], [], {}
        for m in messages:
            state = self.open.get(m.message_id)
            if state is None:
                if m.message_id in self.seen_skipped:
                    self.held[m.message_id] = m.receipt_handle
                else:
                    self.seen_skipped.add(m.message_id)
                    release[m.message_id] = m.receipt_handle
            elif state == DELIVERED or self.target.kind == "delete":
                to_delete.append(m)
            else:
                to_send.append(m)
        self._release(release)
        if to_send:
            to_delete.extend(self._deliver(to_send))
        if self.target.kind == "delete":
            self.sent += len(to_delete)
        self._delete(to_delete)

    def _drained(self, since: float) -> bool:
        """Nothing left to receive: no message visible, and none in flight that could be ours
        (a lost worker's held messages come back after the visibility timeout)."""
        depth = self._dlq_call(sqs.queue_depth)
        if depth.visible == 0 and depth.in_flight <= len(self.held):
            return True
        return time.monotonic() - since > self.visibility_s + 5

    def run(self) -> dict:
        try:
            self._loop()
        except _QueueGone as gone:
            self._close_open(f"the {gone.which} was deleted while the job ran ({gone.err.code}); not re-delivered")
            self._release_held()
            raise JobFailed(f"the {gone.which} no longer exists ({gone.err.code}); {self._summary()}") from gone
        except JobCancelled:
            self._close_open(REASON_CANCELLED)
            self._release_held()
            self.ctx.log(f"stopped on request: {self._summary()}")
            raise
        except AwsError as err:
            self._close_open(f"the job stopped: {err.code} on {err.operation}: {err.message}")
            self._release_held()
            raise JobFailed(f"{err}; {self._summary()}") from err
        except JobLost:
            raise  # another worker owns the items now
        except Exception as exc:  # the run's time limit, a database hiccup: still no message in limbo
            self._close_open(f"the job stopped ({type(exc).__name__}: {exc})")
            raise
        self._release_held()
        self._finish_missing()
        self.ctx.log(self._summary())
        counts = self._counts()
        return {"counts": counts, "total": sum(counts.values())}

    def _loop(self) -> None:
        empty_since: float | None = None
        while self.open:
            self.ctx.check()
            messages = self._dlq_call(sqs.messages_receive, visibility_s=self.visibility_s)
            if not messages:
                empty_since = empty_since or time.monotonic()
                if self._drained(empty_since):
                    return
                time.sleep(EMPTY_WAIT_S)
                continue
            empty_since = None
            self._handle(messages)
            self._pace()

    def _close_open(self, reason: str) -> None:
        """Stopped early: pending items are left with ``reason``; delivered ones stay delivered
        only in name — they were re-delivered but their DLQ copies could not be deleted."""
        pending = [i for i, s in self.open.items() if s == PENDING]
        delivered = [i for i, s in self.open.items() if s == DELIVERED]
        self._final(pending, RedriveItemState.LEFT, reason=reason, from_states=(PENDING,))
        self._final(
            delivered,
            RedriveItemState.LEFT,
            reason=f"re-delivered, but {reason}: its DLQ copy was not deleted (it now exists twice)",
            from_states=(DELIVERED,),
        )

    def _finish_missing(self) -> None:
        pending = [i for i, s in self.open.items() if s == PENDING]
        delivered = [i for i, s in self.open.items() if s == DELIVERED]
        self._final(pending, RedriveItemState.LEFT, reason=REASON_GONE, from_states=(PENDING,))
        self._final(delivered, RedriveItemState.REDRIVEN, reason=REASON_DELIVERED_GONE, from_states=(DELIVERED,))

    def _release_held(self) -> None:
        held, self.held = self.held, {}
        if held:
            self._release(held)

    def _counts(self) -> dict[str, int]:
        from ops.selectors.redrive import redrive_item_counts

        return redrive_item_counts(job=self.job)

    def _summary(self) -> str:
        c = self._counts()
        verb = "deleted" if self.target.kind == "delete" else "redriven"
        return f"{c[RedriveItemState.REDRIVEN]:,} {verb}, {c[RedriveItemState.FAILED]:,} failed, {c[RedriveItemState.LEFT]:,} left in the DLQ"
