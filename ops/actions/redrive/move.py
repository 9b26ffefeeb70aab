"""SQS's own redrive (``dlq.move``: StartMessageMoveTask for a whole event-source DLQ) and the
purge (``dlq.purge``).

The move task runs inside SQS: the job starts it (or, resumed after a lost worker, adopts the
task it started), copies ListMessageMoveTasks' counters into its progress every
MOVE_POLL_SECONDS, and on cancel calls CancelMessageMoveTask. SQS allows one active task per
source queue and at most 500 messages per second.
"""

from __future__ import annotations

import time

from ops.actions.runner import JobCancelled, JobContext, JobFailed
from ops.aws import sqs
from ops.aws.client import Scope
from ops.aws.errors import AwsError

MOVE_POLL_SECONDS = 1.0
# Terminal statuses of a move task, as SQS names them.
MOVE_DONE = ("COMPLETED", "CANCELLED", "FAILED")


def _adoptable(scope: Scope, source_arn: str) -> sqs.MoveTask | None:
    """The running task this job started on an earlier attempt (SQS allows only one)."""
    for task in sqs.move_tasks_list(scope, source_arn=source_arn):
        if task.status == "RUNNING" and task.task_handle:
            return task
    return None


def move_run(ctx: JobContext, *, scope: Scope, source_arn: str, velocity: int | None) -> dict:
    job = ctx.job
    task = _adoptable(scope, source_arn) if job.attempts > 1 else None
    try:
        if task is not None:
            handle = task.task_handle
            ctx.log(f"resumed: following the move task already running ({task.moved:,} moved so far)")
        else:
            handle = sqs.move_task_start(scope, source_arn=source_arn, velocity=velocity)
            ctx.log(f"SQS move task started at {velocity or 'the default'} messages/s", task_handle=handle)
    except AwsError as err:
        if err.code == "UnsupportedOperation":
            raise JobFailed(f"SQS refused: another move task is running on this queue ({err.message})") from err
        raise JobFailed(f"StartMessageMoveTask failed: {err}") from err
    while True:
        try:
            ctx.check()
        except JobCancelled:
            try:
                moved = sqs.move_task_cancel(scope, task_handle=handle)
                ctx.log(f"move task cancelled after {moved:,} messages; the rest stay in the DLQ")
            except AwsError as err:
                ctx.log(f"CancelMessageMoveTask failed ({err}); the task may have finished on its own")
            raise
        try:
            tasks = [t for t in sqs.move_tasks_list(scope, source_arn=source_arn) if t.task_handle in (handle, "")]
        except AwsError as err:
            if err.permanent:
                raise JobFailed(f"ListMessageMoveTasks failed: {err}") from err
            tasks = []
        current = next((t for t in tasks if t.task_handle == handle), None) or (tasks[0] if tasks else None)
        if current is not None:
            ctx.progress(done=current.moved, total=max(current.to_move or 0, current.moved))
            if current.status in MOVE_DONE:
                if current.status == "FAILED":
                    raise JobFailed(f"the SQS move task failed after {current.moved:,} messages: {current.failure_reason}")
                ctx.log(f"move task {current.status.lower()}: {current.moved:,} messages moved")
                return {"moved": current.moved, "status": current.status}
        time.sleep(MOVE_POLL_SECONDS)


def purge_run(ctx: JobContext, *, scope: Scope, url: str) -> dict:
    try:
        depth = sqs.queue_depth(scope, url)
        visible, in_flight = depth.visible, depth.in_flight
        sqs.queue_purge(scope, url)
    except AwsError as err:
        if err.code in ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"):
            raise JobFailed("SQS allows one purge per queue every 60 s and one ran less than a minute ago; try again shortly") from err
        if err.code in sqs.QUEUE_GONE_CODES:
            raise JobFailed(f"the queue no longer exists ({err.code})") from err
        raise JobFailed(f"PurgeQueue failed: {err}") from err
    ctx.progress(done=visible + in_flight, total=visible + in_flight)
    ctx.log(f"purged: about {visible:,} visible and {in_flight:,} in-flight messages deleted (SQS may take up to 60 s to finish)")
    return {"purged_about": visible + in_flight}
