"""AWS failures, split the way callers need them: retry later, or give up and say why."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

# Error codes AWS documents as throttling or service-side trouble: worth retrying later.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
        "InternalServiceFault",
        "InternalError",
        "ServiceException",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        "EC2ThrottledException",
    }
)


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS call that failed. ``permanent`` means retrying the same call will not help."""

    service: str
    operation: str
    code: str
    message: str
    permanent: bool
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.code} on {self.service}:{self.operation}: {self.message}"

    @property
    def transient(self) -> bool:
        return not self.permanent


def classify(exc: Exception, *, service: str, operation: str) -> AwsError:
    """Turn any botocore failure into an AwsError with a transient/permanent verdict."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code") or "Unknown")
        message = str(err.get("Message") or exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        transient = code in TRANSIENT_CODES or (status is not None and (status >= 500 or status == 429))
        return AwsError(service, operation, code, message[:1000], permanent=not transient, status=status)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return AwsError(service, operation, type(exc).__name__, str(exc)[:1000], permanent=False)
    if isinstance(exc, BotoCoreError):
        # Credentials missing, bad parameters caught client-side, …: retrying will not help.
        return AwsError(service, operation, type(exc).__name__, str(exc)[:1000], permanent=True)
    raise exc
