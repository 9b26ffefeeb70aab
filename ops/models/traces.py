"""X-Ray traces as the pages read them (ops/pollers/traces/ writes them).

- ``Trace``: one trace by its X-Ray id (the natural key), with the fields the trace list shows
  and filters on as columns: start, duration, status, HTTP status, version, cold start and its
  Initialization duration, downstream call count, the Lambda request id (the join to LogLine).
- ``TraceSegment``: each segment document as X-Ray returned it (subsegments inside), the
  waterfall's source. Large traces are bounded by the poller before they get here.
- ``TraceCall``: one downstream call (an ``aws`` or ``remote`` subsegment) per row: what the
  service map aggregates (count, error rate, p50/p99 per downstream) without reading documents.

Segments and calls carry the trace's start as ``ts`` so that retention deletes all three by
the same column, children first (ops/pollers/rollup.py).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from ops.models.choices import TraceStatus
from ops.models.inventory import Function


class Trace(models.Model):
    trace_id = models.CharField(max_length=40, unique=True)  # 1-5f84c7a3-0123456789abcdef01234567
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="traces", db_index=False)
    ts = models.DateTimeField()  # the trace's earliest segment start
    duration_ms = models.FloatField()  # earliest start → latest end over all segments
    response_ms = models.FloatField(null=True)  # the entry segment's own duration
    status = models.CharField(max_length=8, choices=TraceStatus.choices, default=TraceStatus.OK)
    # Sort key for "errors first" (TRACE_STATUS_RANK): an integer column, so the list's ORDER BY is plain.
    status_rank = models.PositiveSmallIntegerField(default=3)
    http_status = models.PositiveSmallIntegerField(null=True)
    version = models.CharField(max_length=128, blank=True)  # the executed version, "" when unknown
    cold_start = models.BooleanField(default=False)
    init_ms = models.FloatField(null=True)  # the Initialization subsegment's duration
    downstream_calls = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    segment_count = models.PositiveIntegerField(default=0)
    subsegment_count = models.PositiveIntegerField(default=0)
    # A segment without an end time (still in progress when fetched): the poller fetches the trace again.
    in_progress = models.BooleanField(default=False)
    # What the parser noticed and kept anyway: unknown parents, children outside their parent (clock
    # skew), subsegments dropped past the cap. Bounded list of short strings.
    notes = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=dict, blank=True)  # the function segment's annotations
    error_type = models.CharField(max_length=256, blank=True)  # first exception's type, for the list
    fetched_at = models.DateTimeField()

    class Meta:
        indexes = [
            # the trace list (function page and /functions/<pk>/traces): one function, a time window
            models.Index(fields=["function", "ts"], name="trace_fn_ts_idx"),
            # an error group's traces: its lines' request ids → traces of the same function
            models.Index(fields=["function", "request_id"], name="trace_fn_request_idx"),
            # retention: rows older than the cutoff
            BrinIndex(fields=["ts"], name="trace_ts_brin"),
        ]

    def __str__(self) -> str:
        return self.trace_id


class TraceSegment(models.Model):
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="segments", db_index=False)
    segment_id = models.CharField(max_length=64)
    ts = models.DateTimeField()  # the trace's ts (retention)
    document = models.JSONField()  # the segment document, subsegments inside (bounded by the poller)

    class Meta:
        constraints = [
            # idempotent re-fetch; its index also serves "the segments of one trace" (the waterfall)
            models.UniqueConstraint(fields=["trace", "segment_id"], name="tracesegment_natural_key")
        ]
        indexes = [
            # retention: rows older than the cutoff
            BrinIndex(fields=["ts"], name="tracesegment_ts_brin"),
        ]


class TraceCall(models.Model):
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="calls", db_index=False)
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="+", db_index=False)
    subsegment_id = models.CharField(max_length=64)
    ts = models.DateTimeField()  # the trace's ts: the map's window and retention
    service = models.CharField(max_length=256)  # DynamoDB, S3, api.stripe.com
    namespace = models.CharField(max_length=8)  # aws | remote
    operation = models.CharField(max_length=128, blank=True)
    duration_ms = models.FloatField(null=True)  # null while in progress
    error = models.BooleanField(default=False)
    fault = models.BooleanField(default=False)
    throttle = models.BooleanField(default=False)
    http_status = models.PositiveSmallIntegerField(null=True)

    class Meta:
        constraints = [
            # idempotent re-fetch; also serves "the calls of one trace" (replace on re-fetch)
            models.UniqueConstraint(fields=["trace", "subsegment_id"], name="tracecall_natural_key")
        ]
        indexes = [
            # the service map and trace_downstream_worst: one function's calls in a window, per service
            models.Index(fields=["function", "ts"], name="tracecall_fn_ts_idx"),
            # retention: rows older than the cutoff
            BrinIndex(fields=["ts"], name="tracecall_ts_brin"),
        ]
