"""What exists in the monitored AWS estate: accounts, functions, versions, aliases, queues.

Rows are keyed by AWS's own natural keys (ARNs), upserted by the inventory poller, and never
deleted when AWS forgets them: a function that disappears gets ``gone_at`` so its history stays.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from ops.models.choices import AliasChangeSource, Architecture, DeployDating, PollSource, PollState, QueueRole

ACCOUNT_ID = RegexValidator(r"^\d{12}$", "An AWS account id is 12 digits.")
REGION = RegexValidator(r"^[a-z]{2}(-[a-z]+)+-\d$", "Not an AWS region name (e.g. us-east-1).")


class Account(models.Model):
    name = models.CharField(max_length=64, unique=True)
    account_id = models.CharField(max_length=12, unique=True, validators=[ACCOUNT_ID])
    role_arn = models.CharField(
        max_length=2048, blank=True, help_text="Role to assume; empty uses the default credential chain."
    )
    external_id = models.CharField(max_length=1224, blank=True)
    regions = ArrayField(models.CharField(max_length=32, validators=[REGION]))
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


class Function(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="functions")
    region = models.CharField(max_length=32)
    name = models.CharField(max_length=140)
    arn = models.CharField(max_length=255, unique=True)
    runtime = models.CharField(max_length=32, blank=True)  # empty for container images
    package_type = models.CharField(max_length=16, default="Zip")
    handler = models.CharField(max_length=128, blank=True)
    description = models.CharField(max_length=256, blank=True)
    memory_mb = models.PositiveIntegerField()
    timeout_s = models.PositiveIntegerField()
    architecture = models.CharField(max_length=8, choices=Architecture.choices, default=Architecture.X86_64)
    ephemeral_storage_mb = models.PositiveIntegerField(default=512)
    reserved_concurrency = models.IntegerField(null=True, blank=True)
    provisioned_concurrency = models.IntegerField(null=True, blank=True)  # summed over qualifiers
    tags = models.JSONField(default=dict, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)
    code_size = models.BigIntegerField(default=0)
    code_sha256 = models.CharField(max_length=64, blank=True)
    # Asynchronous invocation: Lambda's DLQ and the on-failure/on-success destinations.
    dlq_target_arn = models.CharField(max_length=255, blank=True)
    on_failure_arn = models.CharField(max_length=255, blank=True)
    on_success_arn = models.CharField(max_length=255, blank=True)
    async_max_event_age_s = models.PositiveIntegerField(null=True, blank=True)
    async_max_retries = models.PositiveSmallIntegerField(null=True, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)
    # When tags, concurrency, async config and versions were last read (they are re-read when
    # the function changes, and at least every INVENTORY_DETAIL_REFRESH_SECONDS).
    detail_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The last minute with invocations, written by the metrics poller: a function invoked within
    # the last hour is "busy" and polled every run by the metrics and the logs pollers.
    last_invoked_at = models.DateTimeField(null=True, blank=True)
    # The end of the last window the metrics poller stored for this function (its cursor, as a
    # fact others may read): minutes at or after it are not known yet, null rather than 0.
    metrics_known_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # functions list: live functions of one account×region, by name
            models.Index(
                fields=["account", "region", "name"], name="fn_live_scope_idx", condition=models.Q(gone_at=None)
            ),
            # functions list search: name prefix/contains across the fleet
            models.Index(fields=["name"], name="fn_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def console_url(self) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/lambda/home?region={self.region}"
            f"#/functions/{self.name}"
        )


class FunctionVersion(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=16)
    description = models.CharField(max_length=256, blank=True)
    code_sha256 = models.CharField(max_length=64, blank=True)
    runtime = models.CharField(max_length=32, blank=True)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)  # when it was published
    first_seen = models.DateTimeField(auto_now_add=True)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "version"], name="fnversion_natural_key")]

    def __str__(self) -> str:
        return f"{self.function.name}:{self.version}"

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else 0


class Alias(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)
    arn = models.CharField(max_length=255, unique=True)
    version = models.CharField(max_length=16)
    # AdditionalVersionWeights as AWS gives them: {"8": 0.1} sends 10 % to version 8.
    weights = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=256, blank=True)
    revision_id = models.CharField(max_length=64, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["function", "name"], name="alias_natural_key")]

    def __str__(self) -> str:
        return f"{self.function.name}:{self.name}"

    @property
    def routing(self) -> list[tuple[str, float]]:
        """[(version, share)], the primary version first; shares add up to 1."""
        extra = {str(v): float(w) for v, w in (self.weights or {}).items()}
        return [(self.version, round(1 - sum(extra.values()), 6)), *sorted(extra.items())]


class AliasChange(models.Model):
    """Every alias move Lambda Ops sees or makes: deploy markers and rollback targets."""

    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="changes")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="alias_changes")
    at = models.DateTimeField()
    from_version = models.CharField(max_length=16, blank=True)
    from_weights = models.JSONField(default=dict, blank=True)
    to_version = models.CharField(max_length=16)
    to_weights = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=AliasChangeSource.choices)
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    # The Lambda Ops job that made this move (rollback, canary finish/abort); null for moves
    # made elsewhere. Its FK index serves the job page's "what did this job move".
    job = models.ForeignKey("ops.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="alias_changes")
    # From CloudTrail when it told us (the EventId merges the event with the inventory's sighting).
    event_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=256, blank=True)  # AWS principal: role/deploy-bot, user/alice
    tool = models.CharField(max_length=32, blank=True)  # CodeDeploy, CloudFormation, console, aws-cli, …
    dated_by = models.CharField(max_length=16, choices=DeployDating.choices, default=DeployDating.POLL)
    # The inventory's sighting: when it saw the move, and when it last saw the alias before it
    # (the move happened in between; the ExecutedVersion fallback looks there).
    observed_at = models.DateTimeField(null=True, blank=True)
    observed_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # deploy markers: a function's alias changes within a time range
            models.Index(fields=["function", "at"], name="aliaschange_fn_at_idx"),
            # rollback target: an alias's latest changes
            models.Index(fields=["alias", "-at"], name="aliaschange_alias_at_idx"),
        ]
        constraints = [
            # one row per CloudTrail event: the changes poller and the inventory merge on it
            models.UniqueConstraint(
                fields=["event_id"], name="aliaschange_event_id_key", condition=~models.Q(event_id="")
            ),
        ]

    @property
    def is_rollback(self) -> bool:
        return self.source == AliasChangeSource.ROLLBACK

    def __str__(self) -> str:
        return f"{self.alias} {self.from_version or '∅'} → {self.to_version}"


class Queue(models.Model):
    """An SQS queue that matters to a function: a DLQ, a destination or an event source."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="queues")
    region = models.CharField(max_length=32)
    arn = models.CharField(max_length=255, unique=True)
    url = models.CharField(max_length=512, blank=True)
    name = models.CharField(max_length=80)
    fifo = models.BooleanField(default=False)
    # From the queue's own RedrivePolicy, when it is an event source with a DLQ.
    dlq_arn = models.CharField(max_length=255, blank=True)
    max_receive_count = models.PositiveIntegerField(null=True, blank=True)
    retention_s = models.PositiveIntegerField(null=True, blank=True)
    visibility_timeout_s = models.PositiveIntegerField(null=True, blank=True)
    last_seen = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)
    attributes_error = models.CharField(max_length=256, blank=True)

    # The DLQ poller's last read (ops/pollers/dlq): the depth from GetQueueAttributes — the
    # truth, where the AWS/SQS metric may be absent — and what its peek saw. Null until polled.
    depth_at = models.DateTimeField(null=True, blank=True)
    depth_visible = models.PositiveIntegerField(null=True, blank=True)
    depth_in_flight = models.PositiveIntegerField(null=True, blank=True)
    depth_delayed = models.PositiveIntegerField(null=True, blank=True)
    # SentTimestamp of the oldest stored message still present (its age is "oldest age")
    oldest_sent_at = models.DateTimeField(null=True, blank=True)
    peek_at = models.DateTimeField(null=True, blank=True)
    peek_seen = models.PositiveIntegerField(null=True, blank=True)
    # True when the peek saw every message (drained and seen ≥ depth, nothing in flight):
    # only then may stored messages it did not see be marked gone.
    peek_complete = models.BooleanField(default=False)
    peek_note = models.CharField(max_length=300, blank=True)  # why a peek was partial or skipped
    # The last failed DLQ read (a deleted queue, AccessDenied), cleared by the next good one.
    dlq_error = models.CharField(max_length=300, blank=True)
    dlq_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FunctionQueue(models.Model):
    """Which queue plays which role for which function (a queue can serve several)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="queue_links")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="function_links")
    role = models.CharField(max_length=16, choices=QueueRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "queue", "role"], name="functionqueue_natural_key")
        ]


class EventSourceMapping(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_sources")
    uuid = models.CharField(max_length=64, unique=True)
    source_arn = models.CharField(max_length=255)
    state = models.CharField(max_length=32, blank=True)
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    on_failure_arn = models.CharField(max_length=255, blank=True)
    last_seen = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)

    @property
    def source_kind(self) -> str:
        return self.source_arn.split(":")[2] if self.source_arn.count(":") >= 2 else ""


class PollStatus(models.Model):
    """One row per source × account × region: what the status page and /healthz show."""

    source = models.CharField(max_length=16, choices=PollSource.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="poll_statuses")
    region = models.CharField(max_length=32)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=128, blank=True)
    last_error_message = models.TextField(blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Where the next run starts (per source: a timestamp, per-log-group positions, …).
    cursor = models.JSONField(default=dict, blank=True)
    # Problems that did not fail the run (a bad log line, a partial metric result), newest last.
    warnings = models.JSONField(default=list, blank=True)
    # --- what ops.pollers.health judges the state from (recorded by ops.pollers.base) ---
    # A scope that never succeeds is failing once this is POLL_FAILING_CYCLES cadences old.
    created_at = models.DateTimeField(default=timezone.now)
    # The source's cadence when it last ran: "no success within N cadences" needs no other lookup.
    cadence_s = models.PositiveIntegerField(null=True, blank=True)
    # AWS said no for a reason retrying will not cure (AccessDenied): failing at once.
    last_error_permanent = models.BooleanField(default=False)
    # The last finished run's AWS calls (after boto3's retries) and how many of them failed.
    last_calls = models.PositiveIntegerField(default=0)
    last_failed_calls = models.PositiveIntegerField(default=0)
    # Why the last run read less than it was due to (failed calls, partial data, time budget).
    last_shortfall = models.CharField(max_length=500, blank=True)
    # Everything before this instant has been read (the poller says; null = not known).
    data_until = models.DateTimeField(null=True, blank=True)
    # The state as the last run left it, and since when; readers add "failing" once no run
    # has succeeded for long enough, which no run is there to record.
    state = models.CharField(max_length=16, choices=PollState.choices, blank=True)
    state_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "account__name", "region"]
        constraints = [
            models.UniqueConstraint(fields=["source", "account", "region"], name="pollstatus_natural_key")
        ]

    @property
    def healthy(self) -> bool:
        """The last run did not fail. The pages, /healthz and the API judge more than this:
        ok / degraded / failing, in ops.pollers.health."""
        return self.last_success_at is not None and (
            self.last_error_at is None or self.last_error_at <= self.last_success_at
        )


__all__ = [
    "Account",
    "Alias",
    "AliasChange",
    "EventSourceMapping",
    "Function",
    "FunctionQueue",
    "FunctionVersion",
    "PollSource",
    "PollStatus",
    "Queue",
]
