"""AWS/Lambda's account × region aggregates, as CloudWatch publishes them.

A GetMetricData query with no dimensions for Invocations, Errors, Throttles, ConcurrentExecutions
or the async and DLQ counts is answered over every function: each minute merges the
FunctionName-only series of that metric (Sum adds, Maximum takes the largest) with any points
written without dimensions (the traffic writes the account's concurrency total, which is at
least every function's own maximum). Alias and version series are part of their function's and
are not added again, as in CloudWatch.
"""

from __future__ import annotations

from typing import Any

LAMBDA = "AWS/Lambda"
AGGREGATED = frozenset({
    "Invocations", "Errors", "Throttles", "ConcurrentExecutions", "AsyncEventsReceived", "AsyncEventsDropped",
    "DeadLetterErrors", "DestinationDeliveryFailures", "RecursiveInvocationsDropped",
})


def merged_series(parts: list, own: Any, start: float, end: float, make: type) -> Any:
    """A new series (``make``) holding the minute buckets of ``parts`` and ``own`` in [start, end)
    merged; None when there is nothing to merge. Percentile histograms are not merged (nothing
    asks a fleet-wide percentile)."""
    if own is not None:
        parts = parts + [own]
    if not parts:
        return None
    merged = make(own.unit if own is not None else None)
    first, last = int(start // 60) * 60, int(end)
    minutes = range(first, last, 60)
    for part in parts:
        buckets = part.buckets
        if len(buckets) > len(minutes):  # a short window over a long history: look minutes up
            items = [(m, b) for m in minutes if (b := buckets.get(m)) is not None]
        else:  # snapshot: writers run concurrently
            items = [(m, b) for m, b in list(buckets.items()) if first <= m < last]
        for m, b in items:
            agg = merged.buckets.get(m)
            if agg is None:
                merged.buckets[m] = [b[0], b[1], b[2], b[3], None]
            else:
                agg[0] += b[0]
                agg[1] += b[1]
                agg[2] = min(agg[2], b[2])
                agg[3] = max(agg[3], b[3])
    return merged
