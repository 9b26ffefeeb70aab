"""SQS in linear time, so redrives and benchmarks of thousands of messages run in seconds.

moto computes all of a queue's attributes — three of which scan every message, each message
asking the clock through a datetime round trip — whenever it needs one: on every SendMessage
(to read ContentBasedDeduplication) and, in ReceiveMessage, once per candidate message (to read
MessageRetentionPeriod). A receive or a batch send on a queue of n messages costs O(n²) clock
reads; at 1,000 messages that is about a second per call. These patches read the one attribute
needed and make the clock read cheap; answers are unchanged.
"""

from __future__ import annotations

import time
from typing import Any


def _now_ms() -> float:
    return time.time() * 1000


def install() -> None:
    from moto.sqs.models import Message, Queue, SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time()

    Message.visible = property(lambda self: _now_ms() > self.visible_at)
    Message.delayed = property(lambda self: _now_ms() < self.delayed_until)

    def messages(self: Any) -> list:
        now = _now_ms()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    Queue.messages = property(messages)
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
