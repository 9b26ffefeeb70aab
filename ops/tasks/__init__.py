"""Celery tasks, one module per queue; dashboard.celery routes each module to its queue.

Task names follow their module (``ops.tasks.pollers.poll_metrics``), so the route is the
module and a task cannot land on the wrong queue by its name.
"""

from ops.tasks import actions, alerts, pollers  # noqa: F401 - registers every task with the app
