"""Dead-letter messages, as peeked by the DLQ poller, and the per-message ledger of a redrive.

A ``DlqMessage`` is one SQS message of a known DLQ (a ``Queue`` with a DLQ role), stored by its
natural key (queue, message id) the first time a peek sees it and updated on every later peek;
``gone_at`` is set when a complete peek no longer finds it (redriven, deleted, expired or
consumed by someone else), so arrivals are counted even when something drains the queue
between polls.

A ``RedriveItem`` is one message of one redrive job (ops.actions.redrive). The job writes one
row per message it was asked to move *before* it touches any of them, then moves each row
pending → delivered → redriven (or → failed / left) in the same transaction that counts it on
the job, so a worker killed at any point leaves every message in a known state and a resumed
run redoes exactly the rows not yet final.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ops.models.choices import DlqMessageShape, RedriveItemState
from ops.models.inventory import Queue
from ops.models.jobs import Job


class DlqMessage(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=100)
    # The body exactly as SQS returned it (UTF-8 bytes; up to 256 KiB), the same decoded for
    # search and display, and parsed when it is JSON (for JSON-path search and pretty printing).
    body = models.BinaryField()
    body_text = models.TextField(blank=True)
    body_json = models.JSONField(null=True, blank=True)
    body_size = models.PositiveIntegerField(default=0)  # bytes
    md5_of_body = models.CharField(max_length=32, blank=True)
    shape = models.CharField(max_length=24, choices=DlqMessageShape.choices, default=DlqMessageShape.UNKNOWN)
    # SQS system attributes as returned (SentTimestamp, ApproximateReceiveCount, MessageGroupId, …)
    attributes = models.JSONField(default=dict, blank=True)
    # Message attributes: {name: {"type": "String"|"Number"|"Binary…", "value": str} or
    # {"type": …, "base64": str} for binary values, kept exactly}
    message_attributes = models.JSONField(default=dict, blank=True)

    # What failed, from Lambda's attributes (async DLQ: RequestID, ErrorCode, ErrorMessage) or
    # from the invocation record (on-failure destination); empty when the message does not say.
    request_id = models.CharField(max_length=64, blank=True)
    function_arn = models.CharField(max_length=255, blank=True)
    condition = models.CharField(max_length=64, blank=True)  # RetriesExhausted, EventAgeExceeded, …
    approximate_invoke_count = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    # The error group: sha1 hex of the normalised error type and message (same normalisation
    # as the log error groups), so "the 412 messages with KeyError 'id'" is one value.
    group_signature = models.CharField(max_length=40, blank=True)
    # False for records that carry no payload (a stream's shard positions): shown, never replayed.
    replayable = models.BooleanField(default=True)

    receive_count = models.PositiveIntegerField(default=0)  # ApproximateReceiveCount at last peek
    sent_at = models.DateTimeField(null=True, blank=True)  # SentTimestamp: when it entered the DLQ
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "message_id"], name="dlqmessage_natural_key"),
        ]
        indexes = [
            # the queue page's message list: WHERE queue_id = %s [AND gone_at IS NULL] ORDER BY sent_at DESC
            models.Index(fields=["queue", "-sent_at"], name="dlqmessage_queue_sent_idx"),
            # grouping and "redrive this error group in this window":
            # WHERE queue_id = %s AND group_signature = %s AND sent_at BETWEEN %s AND %s
            models.Index(fields=["queue", "group_signature", "sent_at"], name="dlqmessage_queue_group_idx"),
            # the peek's "which stored messages did this peek not see": WHERE queue_id = %s AND gone_at IS NULL
            models.Index(fields=["queue"], condition=Q(gone_at__isnull=True), name="dlqmessage_present_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.queue} {self.message_id}"

    @property
    def present(self) -> bool:
        return self.gone_at is None


class DlqSnapshot(models.Model):
    """One DLQ poll of one queue: the depth it read and what its peek found new or gone.

    The depth chart and the "arrivals per hour" read these; arrivals are counted from message
    ids first seen (not from depth differences), so a queue drained and refilled between two
    polls still shows what arrived.
    """

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="snapshots", db_index=False)
    at = models.DateTimeField()
    visible = models.PositiveIntegerField()
    in_flight = models.PositiveIntegerField()
    delayed = models.PositiveIntegerField()
    seen = models.PositiveIntegerField(default=0)  # messages the peek saw (0 when it was skipped)
    arrivals = models.PositiveIntegerField(default=0)  # ids never stored before
    gone = models.PositiveIntegerField(default=0)  # stored messages a complete peek no longer found
    complete = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # the depth chart, arrivals in a range and the fleet's depth before an instant:
            # WHERE queue_id = %s AND at >= %s AND at < %s ORDER BY at [DESC LIMIT 1]
            models.Index(fields=["queue", "at"], name="dlqsnapshot_queue_at_idx"),
        ]


class RedriveItem(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="redrive_items")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="redrive_items")
    # Null once the stored message is gone from the product's store (retention); the id stays.
    stored_message = models.ForeignKey(DlqMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="redrive_items")
    message_id = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=RedriveItemState.choices, default=RedriveItemState.PENDING)
    reason = models.TextField(blank=True)  # why it failed or was left, in words an operator reads
    attempts = models.PositiveSmallIntegerField(default=0)
    # Where it went: the new SQS message id, or the async invocation's request id.
    delivered_as = models.CharField(max_length=100, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "message_id"], name="redriveitem_natural_key"),
        ]
        indexes = [
            # a job's counts by state and its next pending items: WHERE job_id = %s AND state = %s
            models.Index(fields=["job", "state"], name="redriveitem_job_state_idx"),
        ]

    def __str__(self) -> str:
        return f"job #{self.job_id} {self.message_id} {self.state}"
