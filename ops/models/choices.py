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


# Worst first: /healthz reports the worst state of any scope × source.
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


class JobLogLevel(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
