"""CloudWatch GetMetricData: batching to the API's limits, NextToken paging, datapoint pacing.

Limits (research/perf-reliability-facts.md §1): 500 queries and 100,800 returned datapoints per
call; 180,000 *estimated* datapoints per second per account×region for data under 3 h old
(estimated = range ÷ period, counted even where no data exists). So a call carries
``min(500, 100_800 // points_per_query)`` queries and a token bucket on estimated datapoints
paces the calls. Billing is $0.01 per 1,000 metrics requested, counted by ops.aws.usage.

The query builder (``request_params``) and the splitter (``batches``) are pure functions so they
can be tested without AWS; moto answers GetMetricData but not percentile statistics, ignores
NextToken and aligns buckets to StartTime (so callers align StartTime/EndTime to the period).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from ops.aws.client import Scope, call, client

MAX_QUERIES_PER_CALL = 500
MAX_POINTS_PER_CALL = 100_800
PERIOD = 60


@dataclass(frozen=True)
class MetricQuery:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int = PERIOD


@dataclass(frozen=True)
class MetricResult:
    points: dict[datetime, float]
    status: str  # Complete | PartialData | InternalError | Forbidden
    label: str = ""


@dataclass(frozen=True)
class MetricBatch:
    """Results in the order of the queries asked; calls made; AWS's messages (warnings)."""

    results: tuple[MetricResult, ...]
    calls: int
    messages: tuple[str, ...] = field(default_factory=tuple)


def estimated_points(start: datetime, end: datetime, period: int = PERIOD) -> int:
    return max(1, math.ceil((end - start).total_seconds() / period))


def queries_per_call(start: datetime, end: datetime, period: int = PERIOD) -> int:
    """How many queries fit in one call for this window (the 100,800-point cap)."""
    return max(1, min(MAX_QUERIES_PER_CALL, MAX_POINTS_PER_CALL // estimated_points(start, end, period)))


def batches(queries: Sequence[MetricQuery], start: datetime, end: datetime) -> list[range]:
    """Index ranges of ``queries``, one per GetMetricData call."""
    size = queries_per_call(start, end, max((q.period for q in queries), default=PERIOD))
    return [range(i, min(i + size, len(queries))) for i in range(0, len(queries), size)]


def request_params(queries: Sequence[MetricQuery], start: datetime, end: datetime) -> dict:
    """GetMetricData parameters for one call; query ids are ``q<index within the call>``."""
    if len(queries) > MAX_QUERIES_PER_CALL:
        raise ValueError(f"{len(queries)} queries; GetMetricData takes at most {MAX_QUERIES_PER_CALL}")
    return {
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
        "MetricDataQueries": [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": q.namespace,
                        "MetricName": q.metric,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in q.dimensions],
                    },
                    "Period": q.period,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for i, q in enumerate(queries)
        ],
    }


class DatapointBucket:
    """Token bucket on estimated datapoints: ``take(n)`` blocks until n points may be spent."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.rate = float(rate)
        self.capacity = float(rate)  # one second of burst
        self.tokens = float(rate)
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def take(self, n: int) -> float:
        """Spend n tokens (a call bigger than the bucket waits for a full bucket); return the wait."""
        need = min(float(n), self.capacity)
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            wait = 0.0 if self.tokens >= need else (need - self.tokens) / self.rate
            self.tokens -= need
        if wait:
            self.waited_s += wait
            self.sleep(wait)
        return wait


_buckets: dict[str, DatapointBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(scope: Scope) -> DatapointBucket:
    """One bucket per account×region per process (the DPS quota is per account×region)."""
    with _buckets_lock:
        b = _buckets.get(scope.key)
        if b is None or b.rate != settings.CLOUDWATCH_DPS_BUDGET:
            b = _buckets[scope.key] = DatapointBucket(settings.CLOUDWATCH_DPS_BUDGET)
        return b


def metric_data(
    scope: Scope,
    queries: Sequence[MetricQuery],
    *,
    start: datetime,
    end: datetime,
    bucket: DatapointBucket | None = None,
    cw=None,
) -> MetricBatch:
    """Every query's points in [start, end), in as few calls as the limits allow.

    Each call is paged by NextToken (values of a query can span pages; they are merged) and
    paced by ``bucket``. A failing call raises AwsError; nothing is half-returned.
    """
    cw = cw or client("cloudwatch", scope)
    bucket = bucket or bucket_for(scope)
    results: list[MetricResult] = []
    messages: list[str] = []
    calls = 0
    for idx in batches(queries, start, end):
        chunk = [queries[i] for i in idx]
        params = request_params(chunk, start, end)
        points: list[dict[datetime, float]] = [{} for _ in chunk]
        status = ["Complete"] * len(chunk)
        labels = [""] * len(chunk)
        token = None
        while True:
            bucket.take(len(chunk) * estimated_points(start, end))
            page = call(cw, "GetMetricData", **params, **({"NextToken": token} if token else {}))
            calls += 1
            for r in page.get("MetricDataResults", []):
                i = int(r["Id"][1:])
                points[i].update(zip(r.get("Timestamps", []), r.get("Values", [])))
                labels[i] = r.get("Label", "")
                # PartialData on one page is normal while NextToken continues; keep the last word.
                status[i] = r.get("StatusCode", "Complete")
            for m in page.get("Messages", []) or []:
                messages.append(f"{m.get('Code', '')}: {m.get('Value', '')}")
            token = page.get("NextToken")
            if not token:
                break
        results.extend(MetricResult(points=p, status=s, label=lb) for p, s, lb in zip(points, status, labels))
    return MetricBatch(results=tuple(results), calls=calls, messages=tuple(messages))
