"""Time-series storage, laid out for the reads the pages make.

Measured on this machine class (research/perf-reliability-facts.md): wide rows (one row per
series-minute, one column per metric) need ~6x fewer tuples than one row per datapoint, and a
roll-up table answers a 30-day chart in milliseconds. So:

- ``Series``: one metric stream — a function as a whole, one alias (CloudWatch ``Resource``
  dimension) or one version (``ExecutedVersion``). A small integer key for the big tables.
- ``MinuteStat`` / ``FiveMinuteStat`` / ``HourStat``: the same wide columns at three
  resolutions, mirroring CloudWatch's own retention (15 d / 63 d / 455 d by default).
  Natural key ``(series, ts)``; pollers upsert only the columns they own, so the metrics and
  logs pollers can write the same row without clobbering each other.
- ``MinuteStat`` and ``FiveMinuteStat`` are range-partitioned on ``ts`` in the database (by day
  and by week; migration 0021, kept up by ops.pollers.partitions), which the models do not
  show: ``id`` stays their Django primary key but is not indexed there; every read and write
  goes by the natural key, which is unique on each partition and includes ts as it must.
- ``DayStat``: whole UTC days rolled up from the hour rows, for the fleet overview's range
  totals (so a 30-day total does not read 720 hour rows a series).
- ``RegionStat``: account×region-level concurrency and the aggregate counts the detection
  trigger judges (no function dimension), a row for every minute read.
- ``QueueStat``: DLQ depth and age from AWS/SQS.

Counts absent from CloudWatch are stored as 0 (absent means "no events"); gauges and
percentiles absent are NULL (unknown is not zero).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from ops.models.choices import SeriesKind
from ops.models.inventory import Account, Function, Queue


class Series(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="series")
    kind = models.CharField(max_length=8, choices=SeriesKind.choices, default=SeriesKind.FUNCTION)
    qualifier = models.CharField(max_length=128, blank=True)  # alias name or version; "" for the function

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(fields=["function", "kind", "qualifier"], name="series_natural_key")
        ]

    def __str__(self) -> str:
        return f"{self.function.name}:{self.qualifier}" if self.qualifier else self.function.name


class StatColumns(models.Model):
    """The wide row: every per-function metric the product stores, at one timestamp."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_index=False)
    ts = models.DateTimeField()  # start of the bucket, UTC, aligned to the bucket size

    # AWS/Lambda, Sum
    invocations = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    throttles = models.BigIntegerField(default=0)
    dead_letter_errors = models.BigIntegerField(default=0)
    destination_delivery_failures = models.BigIntegerField(default=0)
    async_events_received = models.BigIntegerField(default=0)
    async_events_dropped = models.BigIntegerField(default=0)
    recursive_invocations_dropped = models.BigIntegerField(default=0)
    pc_spillover_invocations = models.BigIntegerField(default=0)
    # AWS/Lambda Duration, milliseconds
    duration_avg = models.FloatField(null=True)
    duration_max = models.FloatField(null=True)
    duration_p50 = models.FloatField(null=True)
    duration_p90 = models.FloatField(null=True)
    duration_p99 = models.FloatField(null=True)
    # AWS/Lambda, Maximum
    concurrency_max = models.FloatField(null=True)
    iterator_age_max = models.FloatField(null=True)  # ms
    async_event_age_max = models.FloatField(null=True)  # ms
    pc_utilization_max = models.FloatField(null=True)  # 0..1
    # From REPORT lines in CloudWatch Logs (no CloudWatch metric exists for these)
    reports = models.BigIntegerField(default=0)
    cold_starts = models.BigIntegerField(default=0)
    init_duration_sum = models.FloatField(default=0)  # ms
    init_duration_max = models.FloatField(null=True)  # ms
    billed_duration_sum = models.FloatField(default=0)  # ms
    billed_gb_s = models.FloatField(default=0)  # Σ billed seconds × memory GB, the cost basis
    memory_used_max_mb = models.IntegerField(null=True)
    memory_size_mb = models.IntegerField(null=True)
    log_errors = models.BigIntegerField(default=0)  # error lines seen

    class Meta:
        abstract = True


# How each StatColumns column combines across time (roll-ups, chart buckets, range totals);
# the writers and the readers both take these, so a new column is declared once.
METRIC_SUM_COLUMNS = (  # AWS/Lambda Sum statistics: the metrics poller's counts
    "invocations",
    "errors",
    "throttles",
    "dead_letter_errors",
    "destination_delivery_failures",
    "async_events_received",
    "async_events_dropped",
    "recursive_invocations_dropped",
    "pc_spillover_invocations",
)
SUM_COLUMNS = METRIC_SUM_COLUMNS + (
    "reports",
    "cold_starts",
    "init_duration_sum",
    "billed_duration_sum",
    "billed_gb_s",
    "log_errors",
)
MAX_COLUMNS = (
    "duration_max",
    "concurrency_max",
    "iterator_age_max",
    "async_event_age_max",
    "pc_utilization_max",
    "init_duration_max",
    "memory_used_max_mb",
    "memory_size_mb",
)
# A percentile of a coarser bucket cannot be computed from finer ones: the max is kept (an upper bound).
PERCENTILE_COLUMNS = ("duration_p50", "duration_p90", "duration_p99")
WEIGHTED_COLUMNS = ("duration_avg",)  # weighted by invocations


class MinuteStat(StatColumns):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "ts"], name="minutestat_natural_key")]
        # The unique index (series, ts) serves every chart read: one series, a time range.
        indexes = [
            # roll-ups and retention: every series over a time range (rows arrive in time order,
            # so a BRIN index of a few kB does it)
            BrinIndex(fields=["ts"], name="minutestat_ts_brin"),
        ]


class FiveMinuteStat(StatColumns):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "ts"], name="fiveminutestat_natural_key")]
        # hourly roll-up and retention: every series over a time range
        indexes = [BrinIndex(fields=["ts"], name="fiveminutestat_ts_brin")]


# The fleet overview's range totals read these columns of whole days (ops.selectors.fleet_totals);
# the day table's covering index carries them so that read is index-only.
DAY_TOTAL_COLUMNS = (
    "invocations",
    "errors",
    "throttles",
    "async_events_dropped",
    "reports",
    "cold_starts",
    "billed_gb_s",
    "duration_p99",
    "concurrency_max",
    "iterator_age_max",
    "est_duration_ms",
)


# What the overview reads of the hour rows at its range edges (its totals and the cost
# estimate's inputs): the hour table's natural key INCLUDEs them, so those reads are index-only.
HOUR_COVER_COLUMNS = tuple(c for c in DAY_TOTAL_COLUMNS if c != "est_duration_ms") + ("duration_avg",)


class HourStat(StatColumns):
    class Meta:
        constraints = [
            # upsert key; one series' hours in a range (charts, totals); index-only for the
            # overview's edge hours (measured on the scale fixture: 30-day statement 105k → 78k
            # buffers; the index is ~55 % of the heap's size)
            models.UniqueConstraint(fields=["series", "ts"], include=list(HOUR_COVER_COLUMNS), name="hourstat_natural_key")
        ]
        # retention: rows older than the cutoff
        indexes = [BrinIndex(fields=["ts"], name="hourstat_ts_brin")]


class DayStat(StatColumns):
    """One series' whole UTC day, rolled up from its hour rows once the day is over.

    Exists for the fleet overview: a 30-day total is ~30 day rows a series plus the partial
    days at the edges from the finer tables, instead of ~720 hour rows. Each day's rows are
    written together (every series at once), so one series' days sit on different heap pages;
    the natural key's index INCLUDEs what the overview totals, so that read is an index-only
    scan of ~30 adjacent entries (measured in bench/bench_pages.py; a CLUSTER would need an
    exclusive lock every day and drifts again with each new day).

    ``est_duration_ms`` is the cost rule's estimate (Duration avg × invocations of the rows
    without REPORT lines, ``ops.rules.cost``) summed over the day's *hour* rows: it cannot be
    recovered from the day's own sums (a day with REPORT lines in some hours and none in
    others has reports > 0), and an hour-row total is what the finer tables answer.
    """

    est_duration_ms = models.FloatField(default=0)

    class Meta:
        constraints = [
            # upsert key of the roll-up, and the overview's read: one series, its days in the
            # range (index-only: the INCLUDE columns are DAY_TOTAL_COLUMNS)
            models.UniqueConstraint(
                fields=["series", "ts"],
                include=list(DAY_TOTAL_COLUMNS),
                name="daystat_natural_key",
            )
        ]
        # retention: rows older than the cutoff
        indexes = [BrinIndex(fields=["ts"], name="daystat_ts_brin")]


class RegionStat(models.Model):
    """Region-level AWS/Lambda metrics (no FunctionName dimension), one row per minute."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    region = models.CharField(max_length=32)
    ts = models.DateTimeField()
    claimed_concurrency_max = models.FloatField(null=True)
    unreserved_concurrency_max = models.FloatField(null=True)
    concurrency_max = models.FloatField(null=True)
    # The aggregates the detection trigger judges (ops.rules.trigger), Sum over every function.
    # Written for every minute of each window read (0 when CloudWatch had no point), so a NULL
    # means "not read" (rows from before these columns existed), never "quiet".
    invocations = models.BigIntegerField(null=True)
    errors = models.BigIntegerField(null=True)
    throttles = models.BigIntegerField(null=True)
    async_events_dropped = models.BigIntegerField(null=True)
    dead_letter_errors = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            # also serves the trigger's baseline read: one scope's last ~70 minutes
            models.UniqueConstraint(fields=["account", "region", "ts"], name="regionstat_natural_key")
        ]
        # retention: rows older than the cutoff
        indexes = [BrinIndex(fields=["ts"], name="regionstat_ts_brin")]


class MetricsCadence(models.Model):
    """How often the metrics poller reads busy and idle functions of one account×region, and the
    GetMetricData spend per day that projects to. Written by each metrics run; read by the status
    page's spend panel (ops.selectors.usage)."""

    # no index of its own: the natural key below starts with account
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="metrics_cadences", db_index=False)
    region = models.CharField(max_length=32)
    busy_s = models.PositiveIntegerField()
    idle_s = models.PositiveIntegerField()
    usd_per_day = models.FloatField()
    planned_at = models.DateTimeField()
    # How the plan was made (migration 0023): the scope's share of the daily budget after the
    # other kinds of spend, the interval triggered functions get while a trigger is active
    # (NULL when none is), and whether the budget stretched busy or triggered functions past
    # their wanted interval.
    share_usd = models.FloatField(null=True)
    triggered_s = models.PositiveIntegerField(null=True)
    triggered_functions = models.PositiveIntegerField(default=0)
    held_back = models.BooleanField(default=False)

    class Meta:
        ordering = ["account__name", "region"]
        constraints = [
            # one row per scope: each metrics run upserts it on (account, region)
            models.UniqueConstraint(fields=["account", "region"], name="metricscadence_natural_key")
        ]


class QueueStat(models.Model):
    """AWS/SQS depth and age of the oldest message for a known DLQ, one row per minute."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, db_index=False)
    ts = models.DateTimeField()
    visible_max = models.FloatField(null=True)
    oldest_age_max_s = models.FloatField(null=True)
    sent = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "ts"], name="queuestat_natural_key")]
        # retention: rows older than the cutoff
        indexes = [BrinIndex(fields=["ts"], name="queuestat_ts_brin")]


class ErrorGroup(models.Model):
    """Error lines with the same normalised signature (type + message without ids/numbers)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="error_groups")
    signature = models.CharField(max_length=64)  # sha1 hex of the normalised text
    error_type = models.CharField(max_length=200)
    message = models.TextField()  # the normalised message
    count = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # A few recent examples: [{"ts": iso, "request_id": str, "line": str, "version": str}]
    samples = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "signature"], name="errorgroup_natural_key")
        ]
        indexes = [
            # function page: a function's groups seen in the range, most recent first
            models.Index(fields=["function", "-last_seen"], name="errorgroup_fn_last_idx"),
        ]


class ErrorMinute(models.Model):
    """How often one error group occurred in one minute (ranges, charts, alerts)."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, db_index=False)
    ts = models.DateTimeField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "ts"], name="errorminute_natural_key")]
        # retention: rows older than the cutoff
        indexes = [BrinIndex(fields=["ts"], name="errorminute_ts_brin")]


class LogLine(models.Model):
    """Recent error lines, kept so that a chart point can open that minute's lines."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, db_index=False)
    ts = models.DateTimeField()
    request_id = models.CharField(max_length=64, blank=True)
    group = models.ForeignKey(ErrorGroup, null=True, on_delete=models.SET_NULL, related_name="lines")
    stream = models.CharField(max_length=512)
    event_id = models.CharField(max_length=64)
    message = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "stream", "event_id"], name="logline_natural_key")
        ]
        indexes = [
            # chart point → error lines of that minute
            models.Index(fields=["function", "ts"], name="logline_fn_ts_idx"),
            # retention: rows older than the cutoff
            BrinIndex(fields=["ts"], name="logline_ts_brin"),
        ]


class ApiUsage(models.Model):
    """The product's own AWS calls per hour × service × operation × account × region, priced.

    Written by ops.services.usage.api_usage_flush from the in-process counters of
    ops.aws.usage; the status page shows today's spend and the last 24 hours by operation.
    """

    hour = models.DateTimeField()  # start of the hour, UTC
    service = models.CharField(max_length=32)
    operation = models.CharField(max_length=64)
    account_id = models.CharField(max_length=12)  # AWS account id as called (may be unregistered)
    region = models.CharField(max_length=32)
    calls = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)  # metrics requested (GetMetricData), traces (X-Ray)
    bytes_scanned = models.FloatField(default=0)  # Logs Insights
    cost_usd = models.FloatField(default=0)  # estimate, see ops.costs.api

    class Meta:
        constraints = [
            # also serves the status page: rows of the last 24 hours (hour is its first column)
            models.UniqueConstraint(
                fields=["hour", "service", "operation", "account_id", "region"], name="apiusage_natural_key"
            )
        ]


__all__ = [
    "ApiUsage",
    "DayStat",
    "ErrorGroup",
    "ErrorMinute",
    "FiveMinuteStat",
    "HourStat",
    "LogLine",
    "MinuteStat",
    "QueueStat",
    "RegionStat",
    "Series",
]
