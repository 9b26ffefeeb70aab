"""Emergency controls: throttle a function (reserved concurrency 0) and undo it, set reserved
concurrency, disable or enable an event source mapping.

Each run has the rollback's shape:
1. read the live value; if it is not what the confirm page showed (``expected``) and not
   already the goal, refuse and say what it is now (someone changed it meanwhile);
2. one write (PutFunctionConcurrency, DeleteFunctionConcurrency or UpdateEventSourceMapping),
   each idempotent — sending it again sets the same value, so a resumed run is safe;
3. read back to verify, update the inventory row, return what was before (an undo restores it).
"""

from __future__ import annotations

from ops.actions.runner import JobContext, JobFailed, job_kind_register
from ops.aws import lambda_actions
from ops.aws.errors import AwsError
from ops.models import EventSourceMapping, Function, JobKind, JobLogLevel
from ops.pollers.base import account_scope

UNRESERVED = None  # no reserved concurrency: the function draws on the account's unreserved pool


def _label(value: int | None) -> str:
    return "unreserved" if value is None else str(value)


def _aws(what: str, err: AwsError) -> JobFailed:
    return JobFailed(f"AWS refused {what} ({err.code}: {err.message}); nothing was changed")


def concurrency_job(ctx: JobContext) -> dict:
    """function.throttle (goal 0), function.unthrottle (goal: the value before the throttle, or
    unreserved), function.concurrency (goal: the operator's number)."""
    job, p = ctx.job, ctx.job.parameters
    scope = account_scope(job.account, job.region)
    name, goal = p["function"], p.get("reserved")
    expected = p.get("expected")
    try:
        current = lambda_actions.concurrency_get(scope, function=name)
    except AwsError as err:
        if err.code == "ResourceNotFoundException":
            raise JobFailed(f"function {name} no longer exists; nothing was changed") from err
        raise JobFailed(f"could not read the reserved concurrency ({err.code}: {err.message}); nothing was changed") from err
    ctx.log(f"reserved concurrency now {_label(current)}")
    if current != goal and current != expected:
        raise JobFailed(
            f"refused: reserved concurrency of {name} is {_label(current)}, not {_label(expected)} as the confirm page "
            "showed (changed meanwhile); nothing was changed — reload the confirm page"
        )
    if current == goal:
        ctx.log(f"already {_label(goal)}: nothing to send", level=JobLogLevel.WARNING)
    else:
        ctx.check()
        try:
            if goal is UNRESERVED:
                lambda_actions.concurrency_delete(scope, function=name)
            else:
                lambda_actions.concurrency_put(scope, function=name, reserved=goal)
        except AwsError as err:
            if err.permanent:
                raise _aws("the concurrency change", err) from err
            ctx.log(f"write failed ({err.code}); reading back", level=JobLogLevel.WARNING)
    try:
        after = lambda_actions.concurrency_get(scope, function=name)
    except AwsError as err:
        raise JobFailed(f"the change was sent but could not be read back ({err.code}); check the function") from err
    if after != goal:
        raise JobFailed(f"read-back shows reserved concurrency {_label(after)}, not {_label(goal)}")
    ctx.log(f"verified: reserved concurrency {_label(after)}")
    Function.objects.filter(arn=job.resource_arn).update(reserved_concurrency=after)
    ctx.progress(done=1, total=1)
    # "previous" is what an undo restores: what the page showed when it was already the goal
    previous = current if current != goal else expected
    return {"function": name, "previous_reserved": previous, "reserved": after}


def esm_job(ctx: JobContext) -> dict:
    """esm.disable / esm.enable: stop or resume consuming an event source."""
    job, p = ctx.job, ctx.job.parameters
    scope = account_scope(job.account, job.region)
    uuid, enable = p["uuid"], job.kind == JobKind.ESM_ENABLE
    want = "Enabled" if enable else "Disabled"
    goal_states = ("Enabled", "Enabling") if enable else ("Disabled", "Disabling")
    try:
        info = lambda_actions.esm_get(scope, uuid=uuid)
    except AwsError as err:
        raise JobFailed(f"could not read the event source mapping ({err.code}: {err.message}); nothing was changed") from err
    if info is None:
        raise JobFailed(f"event source mapping {uuid} no longer exists; nothing was changed")
    ctx.log(f"event source {info.source_arn} is {info.state}")
    if info.state not in goal_states:
        ctx.check()
        try:
            lambda_actions.esm_update(scope, uuid=uuid, enabled=enable)
        except AwsError as err:
            if err.code == "ResourceInUseException":
                raise JobFailed(f"the mapping is busy ({info.state}); try again in a minute. Nothing was changed") from err
            if err.permanent:
                raise _aws("UpdateEventSourceMapping", err) from err
            ctx.log(f"write failed ({err.code}); reading back", level=JobLogLevel.WARNING)
    else:
        ctx.log(f"already {info.state}: nothing to send", level=JobLogLevel.WARNING)
    try:
        after = lambda_actions.esm_get(scope, uuid=uuid)
    except AwsError as err:
        raise JobFailed(f"the change was sent but could not be read back ({err.code}); check the mapping") from err
    if after is None or after.state not in goal_states:
        raise JobFailed(f"read-back shows the mapping {after.state if after else 'gone'}, not {want}")
    ctx.log(f"verified: {after.state}")
    EventSourceMapping.objects.filter(uuid=uuid).update(state=after.state)
    ctx.progress(done=1, total=1)
    return {"uuid": uuid, "source": after.source_arn, "previous_state": info.state, "state": after.state}


# Every write here sets a value (not a delta) and each run reads first: resuming is safe.
for _kind, _label_text in (
    (JobKind.FUNCTION_THROTTLE, "Throttle function"),
    (JobKind.FUNCTION_UNTHROTTLE, "Undo throttle"),
    (JobKind.FUNCTION_CONCURRENCY, "Set reserved concurrency"),
):
    job_kind_register(kind=_kind, work=concurrency_job, resumable=True, label=_label_text)
for _kind, _label_text in ((JobKind.ESM_DISABLE, "Disable event source"), (JobKind.ESM_ENABLE, "Enable event source")):
    job_kind_register(kind=_kind, work=esm_job, resumable=True, label=_label_text)
