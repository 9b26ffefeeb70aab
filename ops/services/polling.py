"""Ask for a poll outside the schedule (the status page's "poll now"): it becomes a job."""

from __future__ import annotations

from ops.actions.runner import JobRequestError, JobRequestResult, job_request
from ops.models import Account, JobKind


def poll_request(*, account_id: int, region: str, user, idempotency_key: str = "") -> JobRequestResult:
    """Create (or find) the "poll.inventory" job for one account×region; its task runs on the actions queue.

    Raises JobRequestError with a message fit for the operator when the account or the region
    is not one we monitor.
    """
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise JobRequestError(f"No account with id {account_id}.")
    if not account.enabled:
        raise JobRequestError(f"{account.name} is disabled; an admin must enable it before it is polled.")
    if region not in account.regions:
        raise JobRequestError(f"{region or '(no region)'} is not a region of {account.name}.")
    return job_request(
        kind=JobKind.POLL_INVENTORY,
        account=account,
        region=region,
        user=user,
        target_label=f"{account.name}/{region}",
        parameters={"source": "inventory"},
        idempotency_key=idempotency_key,
    )
