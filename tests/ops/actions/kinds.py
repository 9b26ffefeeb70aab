"""Job kinds for tests: slow counted work, so a worker can be killed in the middle of it.

Imported by the tests and by the test worker app (tests/ops/tasks/worker_app.py), so a worker
subprocess knows them too.
"""

from __future__ import annotations

import time

from django.db import transaction

from ops.actions.runner import JobContext, JobFailed, job_kind_register

SLOW = "test.slow_items"
SLOW_RESUMABLE = "test.slow_items_resumable"
FAILING = "test.failing"


def slow_items(ctx: JobContext) -> dict:
    """Process items one by one; each item's log row and its progress count commit together,
    so a resumed run starts exactly after the last counted item."""
    total = int(ctx.job.parameters["items"])
    delay_s = float(ctx.job.parameters.get("delay_s", 0.1))
    ctx.progress(total=total)
    for item in range(ctx.job.progress_done, total):
        ctx.check()
        time.sleep(delay_s)
        with transaction.atomic():
            ctx.log(f"item {item}", item=item, attempt=ctx.attempt)
            ctx.progress(done=item + 1)
    return {"items": total}


def failing(ctx: JobContext) -> dict:
    raise JobFailed("the target refused: AccessDenied")


job_kind_register(kind=SLOW, work=slow_items, resumable=False, label="Slow items")
job_kind_register(kind=SLOW_RESUMABLE, work=slow_items, resumable=True, label="Slow resumable items")
job_kind_register(kind=FAILING, work=failing, resumable=False, label="Failing")
