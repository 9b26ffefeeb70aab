"""Every set of choices the backend uses, in one place."""

from django.db import models


class Architecture(models.TextChoices):
    X86_64 = "x86_64", "x86_64"
    ARM64 = "arm64", "arm64"


class PollSource(models.TextChoices):
    INVENTORY = "inventory", "Inventory"
    METRICS = "metrics", "Metrics"
    LOGS = "logs", "Logs"
    TRACES = "traces", "Traces"
    DLQ = "dlq", "DLQ contents"
    CHANGES = "changes", "Changes (CloudTrail)"


class PollState(models.TextChoices):
    """What a scope × source's polling is doing, as the status page, /healthz and the API say it
    (ops.pollers.health computes it, in one place):

    - ok: the last run read everything it was due to read and the data is current;
    - degraded: data may lag — some AWS calls of the last run failed, a statistic could not be
      read, work was left for the next run, the last run failed, or the data is behind;
    - failing: no successful cycle within POLL_FAILING_CYCLES × the source's cadence, or AWS
      refused for a reason retrying will not cure (AccessDenied).
    """

    OK = "ok", "ok"
    DEGRADED = "degraded", "degraded"
    FAILING = "failing", "failing"


# Worst first: /healthz reports the worst state of any scope × source (an optional source's
# failing counting as degraded: ops.pollers.health.REQUIRED_SOURCES).
POLL_STATE_ORDER: tuple[str, ...] = (PollState.FAILING, PollState.DEGRADED, PollState.OK)


class QueueRole(models.TextChoices):
    LAMBDA_DLQ = "lambda_dlq", "Lambda async DLQ"
    ON_FAILURE = "on_failure", "On-failure destination"
    EVENT_SOURCE = "event_source", "Event source"
    SOURCE_DLQ = "source_dlq", "DLQ of an event source queue"


# Queues that hold a function's failed events (its DLQs), as opposed to the queue it reads from.
DLQ_ROLES = (QueueRole.LAMBDA_DLQ, QueueRole.ON_FAILURE, QueueRole.SOURCE_DLQ)


class AliasChangeSource(models.TextChoices):
    OBSERVED = "observed", "Seen by the inventory poller"
    CREATED = "created", "Alias first seen"
    ROLLBACK = "rollback", "Rolled back from Lambda Ops"
    CANARY = "canary", "Canary finished or aborted from Lambda Ops"
    CLOUDTRAIL = "cloudtrail", "From CloudTrail"


class DeployDating(models.TextChoices):
    """Where an alias change's time comes from, best first."""

    CLOUDTRAIL = "cloudtrail", "CloudTrail event time"
    FIRST_INVOCATION = "first_invocation", "first minute the new version was invoked (ExecutedVersion)"
    POLL = "poll", "inventory poll that saw it"
    ACTION = "action", "Lambda Ops action"


class ChangeKind(models.TextChoices):
    """What a CloudTrail Lambda event changed."""

    ALIAS = "alias", "Alias"
    VERSION = "version", "Version published"
    CODE = "code", "Code"
    CONFIG = "config", "Configuration"
    CONCURRENCY = "concurrency", "Reserved concurrency"
    PROVISIONED = "provisioned", "Provisioned concurrency"
    ASYNC = "async", "Async invocation config"
    FUNCTION = "function", "Function created or deleted"
    OTHER = "other", "Other"


class SeriesKind(models.TextChoices):
    FUNCTION = "function", "Function"
    ALIAS = "alias", "Alias (Resource)"
    VERSION = "version", "Version (ExecutedVersion)"


class AuditResult(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DENIED = "denied", "Denied"


class Role(models.TextChoices):
    """Django groups that carry the two product roles; admins are Django superusers."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"


class JobStatus(models.TextChoices):
    """A job's lifecycle: pending → running → succeeded | failed | cancelled.

    A running job may also go back to pending when the sweeper resumes it after its worker was
    lost (only kinds that declare themselves resumable, up to JOB_MAX_ATTEMPTS claims).
    """

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Named groups of JobStatus. ACTIVE is what the one-active-per-target constraint counts;
# TERMINAL states are never left.
JOB_ACTIVE: tuple[str, ...] = (JobStatus.PENDING, JobStatus.RUNNING)
JOB_TERMINAL: tuple[str, ...] = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobKind(models.TextChoices):
    """What a job does; each kind's work is registered in ops.actions.runner."""

    POLL_INVENTORY = "poll.inventory", "Inventory poll"
    # Dead-letter queues (ops.actions.redrive): SQS's own message move task for a whole
    # SQS-sourced DLQ; the product's loop for everything else and for any chosen subset.
    DLQ_MOVE = "dlq.move", "DLQ redrive (SQS move task)"
    DLQ_REDRIVE = "dlq.redrive", "DLQ redrive"
    DLQ_DELETE = "dlq.delete", "Delete DLQ messages"
    DLQ_PURGE = "dlq.purge", "Purge DLQ"
    # Aliases and emergency controls (ops.actions.rollback, ops.actions.controls).
    ALIAS_ROLLBACK = "alias.rollback", "Alias rollback"
    CANARY_FINISH = "alias.canary_finish", "Finish canary"
    CANARY_ABORT = "alias.canary_abort", "Abort canary"
    FUNCTION_THROTTLE = "function.throttle", "Throttle function"
    FUNCTION_UNTHROTTLE = "function.unthrottle", "Undo throttle"
    FUNCTION_CONCURRENCY = "function.concurrency", "Set reserved concurrency"
    ESM_DISABLE = "esm.disable", "Disable event source"
    ESM_ENABLE = "esm.enable", "Enable event source"


class DlqMessageShape(models.TextChoices):
    """What a dead-letter message is, which decides how it is shown and how it is re-delivered."""

    ASYNC_EVENT = "async_event", "Lambda async DLQ: the original event, error in attributes"
    INVOCATION_RECORD = "invocation_record", "On-failure destination: an invocation record"
    STREAM_RECORD = "stream_record", "Stream on-failure record: shard positions, no payload"
    SOURCE_MESSAGE = "source_message", "Event-source DLQ: the original queue message"
    UNKNOWN = "unknown", "Not recognised"


class RedriveItemState(models.TextChoices):
    """Where one message of a redrive is. Every message of a job ends in exactly one of
    REDRIVEN, LEFT (still in the DLQ: not found, skipped, cancelled before its turn) or FAILED
    (re-delivery refused, with a reason; the message stays in the DLQ)."""

    PENDING = "pending", "Waiting"
    DELIVERED = "delivered", "Re-delivered, not yet deleted from the DLQ"
    REDRIVEN = "redriven", "Re-delivered and deleted from the DLQ"
    FAILED = "failed", "Re-delivery failed; still in the DLQ"
    LEFT = "left", "Left in the DLQ"


REDRIVE_ITEM_FINAL: tuple[str, ...] = (RedriveItemState.REDRIVEN, RedriveItemState.FAILED, RedriveItemState.LEFT)


class JobLogLevel(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class ApiTokenState(models.TextChoices):
    """Derived from revoked_at and expires_at, never stored: what token lists and the admin show."""

    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class QuarantineReason(models.TextChoices):
    """Why one log line or resource was set aside instead of stored (ops.pollers.quarantine)."""

    TOO_LONG = "too_long", "line longer than the parser reads"
    OUT_OF_BOUNDS = "out_of_bounds", "number outside physical bounds"
    UNREADABLE = "unreadable", "REPORT or JSON record that cannot be read"
    TOO_DEEP = "too_deep", "JSON nested deeper than the parser reads"
    SANITISED = "sanitised", "stored after removing NUL or unpaired surrogates"
    DB_REFUSED = "db_refused", "row the database refused"
    BAD_NAME = "bad_name", "name AWS would reject"
    BAD_SEGMENT = "bad_segment", "X-Ray segment document that cannot be read"
    TRACE_TOO_LARGE = "trace_too_large", "X-Ray trace larger than the poller stores"


class PermissionState(models.TextChoices):
    """One IAM action's answer for an account × region (ops.services.permissions)."""

    GRANTED = "granted", "granted"
    DENIED = "denied", "denied"
    NOT_CHECKED = "not_checked", "not checked"


class TraceStatus(models.TextChoices):
    """A stored X-Ray trace's outcome, worst first (X-Ray's own fault > error > throttle)."""

    FAULT = "fault", "fault (5xx)"
    ERROR = "error", "error (4xx)"
    THROTTLE = "throttle", "throttle (429)"
    OK = "ok", "ok"


# Sort rank for "errors first": lower is worse.
TRACE_STATUS_RANK: dict[str, int] = {TraceStatus.FAULT: 0, TraceStatus.ERROR: 1, TraceStatus.THROTTLE: 2, TraceStatus.OK: 3}


# --- Alerts (ops.alerts) ---------------------------------------------------------------------


class AlertSignal(models.TextChoices):
    """What an alert rule watches. Per-function signals are ops.rules.signals keys (the same
    columns, units and wording the pages use); the last two are not about one function."""

    ERRORS = "errors", "Errors (count)"
    ERROR_RATE = "error_rate", "Error rate (%)"
    THROTTLES = "throttles", "Throttles (count)"
    P99_OF_TIMEOUT = "p99_of_timeout", "Duration p99 (% of timeout)"
    COLD_START_RATE = "cold_start_rate", "Cold starts (% of invocations)"
    CONCURRENCY = "concurrency", "Concurrency (% of its limit)"
    ITERATOR_AGE = "iterator_age", "Iterator age (ms)"
    ASYNC_EVENTS_DROPPED = "async_events_dropped", "Async events dropped (count)"
    DEAD_LETTER_ERRORS = "dead_letter_errors", "Dead-letter errors (count)"
    DLQ_DEPTH = "dlq_depth", "DLQ depth (messages)"
    DLQ_NEW_MESSAGES = "dlq_growth", "New DLQ messages (count)"
    DAILY_COST = "cost", "Cost today (USD)"
    REGION_HEADROOM = "region_headroom", "Region concurrency headroom (% of the account limit left)"
    POLLER_FAILING = "poller_failing", "A poller failing (1 = failing)"


class AlertScope(models.TextChoices):
    FUNCTION = "function", "One function"
    TAG = "tag", "Functions with a tag"
    ACCOUNT = "account", "All functions of an account"
    REGION = "region", "All functions of an account × region"
    ALL = "all", "All functions"


class AlertComparison(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", "≥"
    LT = "lt", "<"
    LTE = "lte", "≤"


class MissingData(models.TextChoices):
    """CloudWatch's treat-missing-data, for a one-minute window with no data point."""

    MISSING = "missing", "missing: the window does not count either way"
    NOT_BREACHING = "not_breaching", "not breaching: counts as good"
    BREACHING = "breaching", "breaching: counts as bad"
    IGNORE = "ignore", "ignore: keep the current state"


class AlertSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class AlertStateName(models.TextChoices):
    """A rule × function's state: ok → pending (breaching, fewer than M of N) → firing →
    resolved (a firing state that came back; the next breach starts at pending again)."""

    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class IncidentEventKind(models.TextChoices):
    FIRED = "fired", "Rule fired"
    REFIRED = "refired", "Rule fired again"
    RULE_RESOLVED = "rule_resolved", "Rule back to normal"
    NOTIFIED = "notified", "Notified"
    NOTIFY_FAILED = "notify_failed", "Notification failed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    MUTED = "muted", "Muted"
    UNMUTED = "unmuted", "Unmuted"
    ACTION = "action", "Action taken"
    AUTO_ROLLBACK = "auto_rollback", "Automatic rollback"
    RULE_DELETED = "rule_deleted", "Rule deleted"
    RESOLVED = "resolved", "Resolved"


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack (incoming webhook)"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "JSON webhook"


class NotificationKind(models.TextChoices):
    FIRING = "firing", "Firing"
    REPEAT = "repeat", "Still firing (repeat)"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test"


class NotificationState(models.TextChoices):
    """Outbox row: pending (due_at says when) → sending (claimed) → sent | failed | cancelled."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


NOTIFICATION_FINAL: tuple[str, ...] = (NotificationState.SENT, NotificationState.FAILED, NotificationState.CANCELLED)


class AggregateSignal(models.TextChoices):
    """What an account × region's aggregate Lambda metrics (no FunctionName dimension) can rise
    in; a rise is a detection trigger (ops.rules.trigger)."""

    ERRORS = "errors", "errors"
    ERROR_RATE = "error_rate", "error rate"
    THROTTLES = "throttles", "throttles"
    ASYNC_EVENTS_DROPPED = "async_events_dropped", "dropped async events"
    DEAD_LETTER_ERRORS = "dead_letter_errors", "dead-letter errors"
    CONCURRENCY = "concurrency", "concurrency"
    INVOCATIONS = "invocations", "invocations"


class CadenceReason(models.TextChoices):
    """Why the metrics poller reads a function as often as it does (status page)."""

    BUSY = "busy", "busy (invoked in the last hour)"
    IDLE = "idle", "idle"
    TRIGGERED = "triggered", "triggered"
    HELD_BACK = "held_back", "held back by budget"
