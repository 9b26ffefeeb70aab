"""A DLQ's depth at an instant, as the fleet statement and the now state read it (SQL, no I/O).

Two sources: the AWS/SQS metric (ApproximateNumberOfMessagesVisible, one row per minute in
QueueStat; absent on a quiet queue or an endpoint that does not publish it) and the DLQ poller's
GetQueueAttributes read (DlqSnapshot, the truth at the moment of the poll). The newest sample of
either before the instant wins: where the poller runs, that is its read; before it first ran, or
where it cannot read the queue, the metric's history still answers.
"""

from __future__ import annotations


def depth_before_sql(queue_id: str, bound: str) -> str:
    """A scalar subquery: the depth of queue ``queue_id`` (an SQL expression) before ``bound``
    (an SQL expression or placeholder); NULL when neither source has a sample. Each branch is
    one index probe: queuestat_natural_key (queue_id, ts) and dlqsnapshot_queue_at_idx."""
    return f"""(SELECT d.v FROM (
    (SELECT ts AS at, visible_max AS v FROM ops_queuestat
     WHERE queue_id = {queue_id} AND ts < {bound} AND visible_max IS NOT NULL ORDER BY ts DESC LIMIT 1)
    UNION ALL
    (SELECT at, visible::float8 AS v FROM ops_dlqsnapshot
     WHERE queue_id = {queue_id} AND at < {bound} ORDER BY at DESC LIMIT 1)
  ) d ORDER BY d.at DESC LIMIT 1)"""


def arrivals_sql(queue_id: str, since: str, until: str) -> str:
    """A scalar subquery: message ids the DLQ poller first saw in [since, until) — arrivals that
    count even when the queue was drained between two reads, so the depth alone looks flat."""
    return f"""(SELECT coalesce(sum(arrivals), 0) FROM ops_dlqsnapshot
     WHERE queue_id = {queue_id} AND at >= {since} AND at < {until})"""


def growth_sql(depth: str, before: str, arrivals: str) -> str:
    """Growth: the depth's rise, or the arrivals when more arrived than the depth shows (a queue
    drained and refilled); just the rise where the poller counted no arrivals."""
    rise = f"({depth} - coalesce({before}, 0))"
    return f"CASE WHEN {arrivals} > 0 THEN greatest({rise}, {arrivals}) ELSE {rise} END"
