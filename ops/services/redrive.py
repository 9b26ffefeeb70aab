"""DLQ actions asked for by an operator: validate, decide the kind and its parameters, make the job.

Which kind: the whole of an event-source queue's DLQ, when the operator chose SQS's own move,
is ``dlq.move`` (StartMessageMoveTask); everything else — Lambda async DLQs, on-failure
destinations, any chosen or filtered subset — is the product's loop, ``dlq.redrive``.
Deleting chosen messages and purging need the queue's name typed back (``confirm_name``).
The loop kinds act on the messages the confirm page previewed, not on those that match when the
job runs: the selection is frozen at the highest stored message id the page saw (``upto``), or,
for a request that carries none, at the one its own preview sees.
"""

from __future__ import annotations

from dataclasses import replace

from ops.actions.runner import JobRequestError, JobRequestResult, job_request
from ops.aws.sqs import MOVE_VELOCITY_MAX
from ops.models import JobKind, Queue
from ops.selectors.dlq import dlq_queue
from ops.selectors.redrive import RedrivePreview, RedriveSelection, redrive_preview, redrive_target


class RedriveRefused(JobRequestError):
    """A request the product will not turn into a job; the message says why, for the operator."""


def _dlq_only(queue: Queue) -> None:
    # Redrive, delete and purge are for dead-letter queues: the same queue as a function's live
    # event source would lose (or, purged, destroy) messages that are still being processed.
    if dlq_queue(pk=queue.pk) is None:
        raise RedriveRefused(f"{queue.name} is not a dead-letter queue of any known function; DLQ actions are refused on it.")


def _frozen(selection: RedriveSelection, preview: RedrivePreview) -> RedriveSelection:
    return selection if selection.upto is not None else replace(selection, upto=preview.last_pk)


def _typed(queue: Queue, confirm_name: str) -> None:
    if (confirm_name or "").strip() != queue.name:
        raise RedriveRefused(f"confirm_name: type the queue's name, {queue.name}, to confirm.")


def dlq_redrive_request(
    *,
    queue: Queue,
    selection: RedriveSelection,
    user,
    idempotency_key: str,
    use_move: bool = False,
    velocity: int | None = None,
    rate: float | None = None,
) -> JobRequestResult:
    _dlq_only(queue)
    target = redrive_target(queue=queue)
    if not target.possible:
        raise RedriveRefused(f"{queue.name} cannot be redriven: {target.description}.")
    common = {"account": queue.account, "region": queue.region, "user": user, "resource_arn": queue.arn,
              "target_label": queue.name, "idempotency_key": idempotency_key}
    if use_move:
        if not target.move_available:
            raise RedriveRefused("method: SQS's move task only serves the DLQ of an event source queue.")
        if not selection.everything:
            raise RedriveRefused("method: SQS's move task moves every message; a chosen subset goes through the product's loop.")
        if velocity is not None and not 1 <= velocity <= MOVE_VELOCITY_MAX:
            raise RedriveRefused(f"velocity: between 1 and {MOVE_VELOCITY_MAX} messages per second (SQS's limit).")
        return job_request(kind=JobKind.DLQ_MOVE, parameters={"queue": queue.pk, "velocity": velocity,
                                                              "source": target.source_queue.arn}, **common)
    preview = redrive_preview(queue=queue, selection=selection)
    if preview.count == 0:
        raise RedriveRefused("Nothing to redrive: no stored message of this queue matches the selection.")
    selection = _frozen(selection, preview)
    if target.kind == "queue":
        target_params = {"kind": "queue", "url": target.source_queue.url, "arn": target.source_queue.arn,
                         "fifo": target.source_queue.fifo}
    else:
        target_params = {"kind": "invoke", "function": target.function.arn, "function_name": target.function.name}
    params = {"queue": queue.pk, "selection": selection.as_params(), "target": target_params,
              "selected": preview.count}
    if rate:
        params["rate"] = rate
    return job_request(kind=JobKind.DLQ_REDRIVE, parameters=params, **common)


def dlq_delete_request(*, queue: Queue, selection: RedriveSelection, confirm_name: str, user, idempotency_key: str) -> JobRequestResult:
    _dlq_only(queue)
    _typed(queue, confirm_name)
    if selection.everything:
        raise RedriveRefused("Choose the messages to delete (or purge the queue to delete every one).")
    preview = redrive_preview(queue=queue, selection=selection)
    if preview.count == 0:
        raise RedriveRefused("Nothing to delete: no stored message of this queue matches the selection.")
    selection = _frozen(selection, preview)
    return job_request(kind=JobKind.DLQ_DELETE, account=queue.account, region=queue.region, user=user,
                       resource_arn=queue.arn, target_label=queue.name, idempotency_key=idempotency_key,
                       parameters={"queue": queue.pk, "selection": selection.as_params(), "selected": preview.count})


def dlq_purge_request(*, queue: Queue, confirm_name: str, user, idempotency_key: str) -> JobRequestResult:
    _dlq_only(queue)
    _typed(queue, confirm_name)
    return job_request(kind=JobKind.DLQ_PURGE, account=queue.account, region=queue.region, user=user,
                       resource_arn=queue.arn, target_label=queue.name, idempotency_key=idempotency_key,
                       parameters={"queue": queue.pk})
