"""The product's job kinds: each one's work, registered with the runner."""

from __future__ import annotations

from ops.actions.runner import JobContext, JobFailed, job_kind_register
from ops.models import JobKind, JobLogLevel, PollSource
from ops.pollers.base import TransientPollError, poll_run
from ops.pollers.inventory import inventory_poll
from ops.services.usage import api_usage_flush_quietly


def inventory_poll_job(ctx: JobContext) -> dict:
    """"Poll now": one inventory run of the job's account×region, under the poller's own lock."""
    job = ctx.job
    if not job.account.enabled:  # disabled after the request: its credentials may be gone
        raise JobFailed(f"{job.account.name} was disabled before the poll ran; nothing was read")
    ctx.log(f"inventory poll of {job.account.name}/{job.region}")
    try:
        outcome = poll_run(source=PollSource.INVENTORY, account=job.account, region=job.region, work=inventory_poll)
    except TransientPollError as err:
        raise JobFailed(f"AWS did not answer this time (transient): {err}") from err
    finally:
        api_usage_flush_quietly()
    if not outcome.ran:
        ctx.log("a scheduled inventory poll of this scope was running; its result stands for this one")
        return {"ran": False, "items": 0}
    if not outcome.ok:
        raise JobFailed(f"inventory poll failed: {outcome.error_code}")
    ctx.progress(done=outcome.items, total=outcome.items)
    for warning in outcome.warnings:
        ctx.log(warning, level=JobLogLevel.WARNING)
    return {"ran": True, "items": outcome.items, "warnings": len(outcome.warnings)}


# An inventory poll upserts on AWS's keys, so running it again after a lost worker is safe.
job_kind_register(kind=JobKind.POLL_INVENTORY, work=inventory_poll_job, resumable=True, label="Inventory poll")

# Alias moves and emergency controls register their kinds when imported.
import ops.actions.controls  # noqa: E402,F401
import ops.actions.rollback  # noqa: E402,F401
import ops.actions.redrive  # noqa: E402,F401 - registers the DLQ kinds (redrive, move, delete, purge)
