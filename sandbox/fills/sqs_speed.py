"""SQS in linear time, so redrives and benchmarks of thousands of messages run in seconds.

moto computes all of a queue's attributes — three of which scan every message, each message
asking the clock through a datetime round trip — whenever it needs one: on every SendMessage
(to read ContentBasedDeduplication) and, in ReceiveMessage, once per candidate message (to read
MessageRetentionPeriod). A receive or a batch send on a queue of n messages costs O(n²) clock
reads; at 1,000 messages that is about a second per call. These patches read the one attribute
needed (SendMessage gets the attributes without the counts) and make the clock read cheap;
answers are unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

# The attributes that scan every message; SendMessage reads none of them.
_COUNTS = frozenset({"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"})
_sending = threading.local()


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

    from moto.core.utils import camelcase_to_underscores

    full_attributes = Queue.attributes.fget

    def attributes(self: Any) -> dict[str, Any]:
        """moto's Queue.attributes, without the message counts while a message is being sent."""
        if not getattr(_sending, "on", False):
            return full_attributes(self)
        names = [a for a in self.BASE_ATTRIBUTES if a not in _COUNTS]
        if self.fifo_queue:
            names += list(self.FIFO_ATTRIBUTES)
        if self.kms_master_key_id:
            names += list(self.KMS_ATTRIBUTES)
        result: dict[str, Any] = {a: getattr(self, camelcase_to_underscores(a)) for a in names}
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in result.items()}

    Queue.attributes = property(attributes)
    send_message = SQSBackend.send_message

    def send_message_cheap(self: Any, *args: Any, **kwargs: Any) -> Any:
        _sending.on = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            _sending.on = False

    SQSBackend.send_message = send_message_cheap
