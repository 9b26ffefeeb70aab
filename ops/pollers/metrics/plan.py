"""What the metrics poller asks CloudWatch for, and how often: pure functions, no I/O.

Per function (FunctionName): Invocations, Errors, Throttles (Sum); Duration Average, Maximum and
the configured percentiles (p50, p90, p99); ConcurrentExecutions (Maximum); the asynchronous
set AsyncEventsReceived, AsyncEventsDropped, DeadLetterErrors, DestinationDeliveryFailures,
RecursiveInvocationsDropped (Sum), AsyncEventAge (Maximum). IteratorAge only for functions with
a stream event source, the ProvisionedConcurrency* metrics only for functions with provisioned
concurrency: those metrics do not exist otherwise, and every query costs money whether or not
it has data.
Per alias (FunctionName + Resource "fn:alias"): the core set. Per version behind a weighted
alias (FunctionName + Resource + ExecutedVersion): the core set without concurrency.
Region (no dimension): ClaimedAccountConcurrency, UnreservedConcurrentExecutions,
ConcurrentExecutions (Maximum). Per known DLQ (AWS/SQS, QueueName): messages visible, age of
the oldest message (Maximum), messages sent (Sum).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.aws.cloudwatch import MetricQuery
from ops.models.telemetry import METRIC_SUM_COLUMNS

LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"
PRICE_PER_METRIC_USD = 0.01 / 1000  # GetMetricData, per metric requested per call


@dataclass(frozen=True)
class Spec:
    metric: str
    stat: str
    column: str


CORE = (
    Spec("Invocations", "Sum", "invocations"),
    Spec("Errors", "Sum", "errors"),
    Spec("Throttles", "Sum", "throttles"),
    Spec("Duration", "Average", "duration_avg"),
    Spec("Duration", "Maximum", "duration_max"),
)
CONCURRENCY = (Spec("ConcurrentExecutions", "Maximum", "concurrency_max"),)
ASYNC = (
    Spec("AsyncEventsReceived", "Sum", "async_events_received"),
    Spec("AsyncEventAge", "Maximum", "async_event_age_max"),
    Spec("AsyncEventsDropped", "Sum", "async_events_dropped"),
    Spec("DeadLetterErrors", "Sum", "dead_letter_errors"),
    Spec("DestinationDeliveryFailures", "Sum", "destination_delivery_failures"),
    Spec("RecursiveInvocationsDropped", "Sum", "recursive_invocations_dropped"),
)
STREAM = (Spec("IteratorAge", "Maximum", "iterator_age_max"),)
PROVISIONED = (
    Spec("ProvisionedConcurrencySpilloverInvocations", "Sum", "pc_spillover_invocations"),
    Spec("ProvisionedConcurrencyUtilization", "Maximum", "pc_utilization_max"),
)
REGION = (
    Spec("ClaimedAccountConcurrency", "Maximum", "claimed_concurrency_max"),
    Spec("UnreservedConcurrentExecutions", "Maximum", "unreserved_concurrency_max"),
    Spec("ConcurrentExecutions", "Maximum", "concurrency_max"),
    # The aggregates the detection trigger judges (ops.rules.trigger): 8 metrics a minute per
    # scope in all, about $3.46 a month.
    Spec("Invocations", "Sum", "invocations"),
    Spec("Errors", "Sum", "errors"),
    Spec("Throttles", "Sum", "throttles"),
    Spec("AsyncEventsDropped", "Sum", "async_events_dropped"),
    Spec("DeadLetterErrors", "Sum", "dead_letter_errors"),
)
# RegionStat counts: stored for every minute of a window read (0 where CloudWatch had no point).
REGION_COUNT_COLUMNS = ("invocations", "errors", "throttles", "async_events_dropped", "dead_letter_errors")
QUEUE = (
    Spec("ApproximateNumberOfMessagesVisible", "Maximum", "visible_max"),
    Spec("ApproximateAgeOfOldestMessage", "Maximum", "oldest_age_max_s"),
    Spec("NumberOfMessagesSent", "Sum", "sent"),
)
# What an idle function is polled with: everything that can be non-zero without an invocation
# in the same minute. All zero (or absent) means the full set would be empty too; anything
# else wakes the function and the full set is read for the same window at once.
PROBE = (
    Spec("Invocations", "Sum", "invocations"),
    Spec("Throttles", "Sum", "throttles"),
    Spec("AsyncEventsReceived", "Sum", "async_events_received"),
    Spec("AsyncEventsDropped", "Sum", "async_events_dropped"),
    Spec("RecursiveInvocationsDropped", "Sum", "recursive_invocations_dropped"),
)
PERCENTILE_COLUMNS = {"p50": "duration_p50", "p90": "duration_p90", "p99": "duration_p99"}

# Columns the metrics poller owns in MinuteStat (the logs poller owns the REPORT columns).
COUNT_COLUMNS = METRIC_SUM_COLUMNS
GAUGE_COLUMNS = (
    "duration_avg",
    "duration_max",
    "duration_p50",
    "duration_p90",
    "duration_p99",
    "concurrency_max",
    "iterator_age_max",
    "async_event_age_max",
    "pc_utilization_max",
)
METRIC_COLUMNS = COUNT_COLUMNS + GAUGE_COLUMNS
STREAM_SOURCES = frozenset({"kinesis", "dynamodb", "kafka"})


def percentile_specs(percentiles) -> tuple[Spec, ...]:
    return tuple(Spec("Duration", p, PERCENTILE_COLUMNS[p]) for p in percentiles if p in PERCENTILE_COLUMNS)


def function_specs(*, percentiles, stream: bool, provisioned: bool) -> tuple[Spec, ...]:
    specs = CORE + percentile_specs(percentiles) + CONCURRENCY + ASYNC
    if stream:
        specs += STREAM
    if provisioned:
        specs += PROVISIONED
    return specs


def alias_specs(*, percentiles, provisioned: bool) -> tuple[Spec, ...]:
    return CORE + percentile_specs(percentiles) + CONCURRENCY + (PROVISIONED if provisioned else ())


def version_specs(*, percentiles) -> tuple[Spec, ...]:
    return CORE + percentile_specs(percentiles)


def lambda_query(spec: Spec, dims: tuple[tuple[str, str], ...]) -> MetricQuery:
    return MetricQuery(namespace=LAMBDA, metric=spec.metric, dimensions=dims, stat=spec.stat)


def function_dims(name: str) -> tuple[tuple[str, str], ...]:
    return (("FunctionName", name),)


def alias_dims(name: str, alias: str) -> tuple[tuple[str, str], ...]:
    return (("FunctionName", name), ("Resource", f"{name}:{alias}"))


def version_dims(name: str, alias: str, version: str) -> tuple[tuple[str, str], ...]:
    return (("FunctionName", name), ("Resource", f"{name}:{alias}"), ("ExecutedVersion", str(version)))


@dataclass(frozen=True)
class Cadence:
    busy_s: int
    idle_s: int
    usd_per_day: float
    held_back: bool = False  # the budget stretched busy or idle functions past their wanted interval


def daily_cost(*, busy_queries: int, idle_queries: int, fixed_queries: int, busy_s: int, idle_s: int, base_s: int) -> float:
    """Estimated GetMetricData USD per day: metrics requested per day × $0.01 / 1,000."""
    per_day = busy_queries * 86400 / busy_s + idle_queries * 86400 / idle_s + fixed_queries * 86400 / base_s
    return per_day * PRICE_PER_METRIC_USD


def plan_cadence(
    *,
    busy_queries: int,
    idle_queries: int,
    fixed_queries: int,
    budget_usd: float,
    base_s: int = 60,
    busy_s: int | None = None,
    idle_s: int = 900,
    max_s: int = 3600,
) -> Cadence:
    """How often busy and idle functions are polled so the day's spend stays within budget.

    1. Busy functions every ``busy_s`` (default ``base_s``, the run's own cadence), idle ones
       every ``idle_s`` (each poll still fetches 1-minute points, so resolution is kept; only
       freshness is traded).
    2. While the projection exceeds the budget, stretch the busy interval by ``base_s`` steps,
       up to the idle interval;
    3. then stretch both together up to ``max_s``. Past that the budget cannot be met and the
       projection says so (the status page shows it).
    """
    wanted_busy = max(busy_s or base_s, base_s)
    wanted_idle = max(idle_s, base_s, wanted_busy)
    busy, idle = wanted_busy, wanted_idle

    def cost() -> float:
        return daily_cost(
            busy_queries=busy_queries,
            idle_queries=idle_queries,
            fixed_queries=fixed_queries,
            busy_s=busy,
            idle_s=idle,
            base_s=base_s,
        )

    while cost() > budget_usd and busy < idle:
        busy += base_s
    while cost() > budget_usd and idle < max_s:
        idle += base_s
        busy = idle
    return Cadence(busy_s=busy, idle_s=idle, usd_per_day=round(cost(), 4),
                   held_back=busy > wanted_busy or idle > wanted_idle)


def plan_triggered(*, queries: int, usual_queries_per_hour: float, room_usd: float, base_s: int, busy_s: int,
                   horizon_s: int = 3600) -> int:
    """How often a trigger's functions are read: every ``base_s`` (each run) if reading
    ``queries`` at that rate for the next ``horizon_s`` — less what their usual reads would have
    cost (``usual_queries_per_hour``) — fits in ``room_usd``, else stretched by ``base_s`` steps
    up to ``busy_s`` (their usual cadence: a trigger never slows a function down). Re-planned
    every run, so a long trigger is stretched as it uses the day's room up."""

    def extra(interval: int) -> float:
        per_hour = queries * 3600 / interval - usual_queries_per_hour
        return max(0.0, per_hour) * horizon_s / 3600 * PRICE_PER_METRIC_USD

    interval = base_s
    while interval < busy_s and extra(interval) > room_usd:
        interval += base_s
    return min(interval, max(busy_s, base_s))
