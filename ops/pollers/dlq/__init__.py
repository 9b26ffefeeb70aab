"""The DLQ poller: each known DLQ's depth from GetQueueAttributes and a non-destructive peek.

poll (the run: depth, peek, store, gone detection), parse (one message → its shape and error:
pure). The AWS calls are in ops.aws.sqs (queue_depth, queue_peek).
"""

from ops.pollers.dlq.poll import dlq_poll

__all__ = ["dlq_poll"]
