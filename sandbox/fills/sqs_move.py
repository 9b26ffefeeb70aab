"""SQS message move tasks (DLQ redrive): Start/List/CancelMessageMoveTask that really move messages.

Each task runs in a daemon thread that moves up to MaxNumberOfMessagesPerSecond messages per
second from the source (a dead-letter queue) to DestinationArn or, without one, back to the
queue whose RedrivePolicy names the DLQ. One active task per source queue.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

DEFAULT_RATE = 500
_tasks: dict[str, "MoveTask"] = {}
_lock = threading.Lock()


class MoveTask:
    def __init__(self, account: str, region: str, source_arn: str, dest_arn: str | None, rate: int | None) -> None:
        self.account, self.region = account, region
        self.handle = uuid.uuid4().hex
        self.source_arn = source_arn
        self.dest_arn = dest_arn
        self.rate = rate
        self.status = "RUNNING"
        self.moved = 0
        self.to_move = 0
        self.failure: str | None = None
        self.started = int(time.time() * 1000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started,
        }
        if self.status == "RUNNING":
            out["TaskHandle"] = self.handle
        if self.dest_arn:
            out["DestinationArn"] = self.dest_arn
        if self.rate:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sqs-move-{self.handle[:6]}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()
        if self.status == "RUNNING":
            self.status = "CANCELLED"

    def _run(self) -> None:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self.account][self.region]
        try:
            source = backend.get_queue(self.source_arn.split(":")[-1])
            dest = backend.get_queue(self.dest_arn.split(":")[-1]) if self.dest_arn else None
            rate = float(self.rate or DEFAULT_RATE)
            budget = 0.0
            last = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                budget = min(rate, budget + (now - last) * rate)
                last = now
                n = int(budget)
                if n >= 1:
                    batch = [m for m in list(source._messages) if m.visible and not m.delayed][:n]
                    if not batch:
                        self.status = "COMPLETED"
                        return
                    moved_ids = set()
                    for m in batch:
                        target = dest or _origin_queue(backend, source, m)
                        if target is None:
                            self.status, self.failure = "FAILED", "AWS.SimpleQueueService.NonExistentQueue"
                            return
                        backend.send_message(target.name, m.body, message_attributes=m.message_attributes or None,
                                             validate_group_id=False)
                        moved_ids.add(id(m))
                        self.moved += 1
                    with source._messages_lock:
                        source._messages = [m for m in source._messages if id(m) not in moved_ids]
                    budget -= len(batch)
                self._stop.wait(0.05)
        except Exception as exc:  # a failed move shows as FAILED, as in AWS
            self.status, self.failure = "FAILED", f"{type(exc).__name__}: {exc}"


def _origin_queue(backend: Any, dlq: Any, message: Any) -> Any:
    sources = backend.list_dead_letter_source_queues(dlq.name)
    return sources[0] if sources else None


def stop_all() -> None:
    with _lock:
        for t in _tasks.values():
            t.cancel()
        _tasks.clear()


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import QueueDoesNotExist, SQSException
    from moto.sqs.models import sqs_backends
    from moto.sqs.responses import SQSResponse

    def _queue_by_arn(backend: Any, arn: str) -> Any:
        try:
            return backend.get_queue(arn.split(":")[-1])
        except QueueDoesNotExist:
            raise SQSException("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.")

    def start_message_move_task(self: Any) -> Any:
        backend = sqs_backends[self.current_account][self.region]
        source_arn = self._get_param("SourceArn")
        dest_arn = self._get_param("DestinationArn")
        rate = self._get_param("MaxNumberOfMessagesPerSecond")
        if rate is not None and not (1 <= int(rate) <= 500):
            raise SQSException("InvalidParameterValue", "Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500.")
        source = _queue_by_arn(backend, source_arn)
        if dest_arn:
            _queue_by_arn(backend, dest_arn)
        elif not backend.list_dead_letter_source_queues(source.name):
            raise SQSException("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        with _lock:
            for t in _tasks.values():
                if t.source_arn == source_arn and t.status == "RUNNING" and t.account == self.current_account:
                    raise SQSException("UnsupportedOperation", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
            task = MoveTask(self.current_account, self.region, source_arn, dest_arn, int(rate) if rate else None)
            task.to_move = len([m for m in source._messages if m.visible and not m.delayed])
            _tasks[task.handle] = task
        task.start()
        return ActionResult({"TaskHandle": task.handle})

    def list_message_move_tasks(self: Any) -> Any:
        source_arn = self._get_param("SourceArn")
        max_results = int(self._get_param("MaxResults") or 1)
        if not 1 <= max_results <= 10:
            raise SQSException("InvalidParameterValue", "Value for parameter MaxResults is invalid. Reason: must be between 1 and 10.")
        _queue_by_arn(sqs_backends[self.current_account][self.region], source_arn)
        with _lock:
            tasks = [t for t in _tasks.values() if t.source_arn == source_arn and t.account == self.current_account]
        tasks.sort(key=lambda t: t.started, reverse=True)
        return ActionResult({"Results": [t.to_json() for t in tasks[:max_results]]})

    def cancel_message_move_task(self: Any) -> Any:
        handle = self._get_param("TaskHandle")
        with _lock:
            task = _tasks.get(handle)
        if task is None or task.status != "RUNNING":
            raise SQSException("ResourceNotFoundException", "Task does not exist or is not running.")
        task.cancel()
        return ActionResult({"ApproximateNumberOfMessagesMoved": task.moved})

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks
    SQSResponse.cancel_message_move_task = cancel_message_move_task
