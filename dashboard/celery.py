"""The one Celery app. Queues keep slow work away from urgent work:

- ``pollers``: AWS polling (a metrics backlog must never delay a rollback),
- ``alerts``: rule evaluation and notifications,
- ``actions``: operator actions (redrive, rollback).

The beat schedule is code (dashboard.schedule), so it is reviewed like code and needs no
database table.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("lambdaops")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Routed by module: a task's name is its module path (ops/tasks/<queue>.py), so where a task
# is defined decides which worker runs it. Compose and `make demo` run one worker per queue.
app.conf.task_routes = {
    "ops.tasks.pollers.*": {"queue": "pollers"},
    "ops.tasks.alerts.*": {"queue": "alerts"},
    "ops.tasks.actions.*": {"queue": "actions"},
}


@app.on_after_finalize.connect
def _install_schedule(sender, **kwargs):
    from dashboard.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


app.autodiscover_tasks(["ops"])

# A worker that cannot reach its database or broker, or whose database is not migrated, exits
# at start-up with a clear message instead of saying "ready" (dashboard/worker_checks.py).
from dashboard.worker_checks import refuse_unless_ready  # noqa: E402

worker_init.connect(refuse_unless_ready, weak=False)
