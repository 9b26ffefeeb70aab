"""What an inventory run checks beyond ListFunctions: concurrency changes nothing else reveals.

ListFunctions gives memory, timeout and storage every run, but not reserved or provisioned
concurrency, and PutFunctionConcurrency does not move LastModified. CloudTrail tells the
changes poller at once; this is the check for when it cannot (denied, or an event lost):

- reserved: one GetAccountSettings per region per run. Its UnreservedConcurrentExecutions is
  the account limit minus every reservation in the region, so any reservation made, changed or
  removed moves it; only then is GetFunctionConcurrency asked of each function (N calls, once
  per change, instead of N calls every run). Two changes that cancel out within one cycle are
  left to the hourly detail re-read.
- provisioned: ListProvisionedConcurrencyConfigs every run, but only for the few functions that
  have some (a new configuration arrives through CloudTrail or the hourly re-read).

The last unreserved figure is this check's part of the inventory cursor
(``{"unreserved": int}``), read only here.
"""

from __future__ import annotations

from ops.aws import lambda_ as aws_lambda
from ops.aws.errors import AwsError
from ops.models import Function
from ops.pollers.base import PollContext
from ops.pollers.cursors import CursorError, decode_object


def _last_unreserved(ctx: PollContext) -> int | None:
    try:
        value = decode_object(ctx.cursor or {}, known={"unreserved"}).get("unreserved")
    except CursorError as err:
        ctx.warn(f"inventory cursor unreadable ({err}); every function's concurrency is re-read")
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def concurrency_drift(ctx: PollContext, *, skip: set[int]) -> int:
    """Refresh reserved/provisioned concurrency that changed without a detail re-read; returns
    how many functions changed. ``skip``: functions whose details this run already read."""
    try:
        unreserved = aws_lambda.unreserved_concurrency(ctx.scope)
    except AwsError as err:
        if err.transient:
            raise
        ctx.warn(f"GetAccountSettings: {err.code}; reserved concurrency is re-read hourly only")
        return 0
    live = list(Function.objects.filter(account=ctx.account, region=ctx.region, gone_at=None).exclude(pk__in=skip))
    check_reserved = unreserved is None or unreserved != _last_unreserved(ctx)
    changed = 0
    for fn in live:
        updates = {}
        try:
            if check_reserved:
                reserved = aws_lambda.reserved_concurrency(ctx.scope, fn.name)
                if reserved != fn.reserved_concurrency:
                    updates["reserved_concurrency"] = reserved
            if fn.provisioned_concurrency:
                provisioned = aws_lambda.provisioned_concurrency(ctx.scope, fn.name)
                if provisioned != fn.provisioned_concurrency:
                    updates["provisioned_concurrency"] = provisioned
        except AwsError as err:
            if err.transient:
                raise
            ctx.warn(f"{fn.name}: concurrency not readable ({err.code})")
            continue
        if updates:
            Function.objects.filter(pk=fn.pk).update(**updates)
            changed += 1
    ctx.cursor = {"unreserved": unreserved} if unreserved is not None else {}
    return changed
