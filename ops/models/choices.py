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


class QueueRole(models.TextChoices):
    LAMBDA_DLQ = "lambda_dlq", "Lambda async DLQ"
    ON_FAILURE = "on_failure", "On-failure destination"
    EVENT_SOURCE = "event_source", "Event source"
    SOURCE_DLQ = "source_dlq", "DLQ of an event source queue"


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
