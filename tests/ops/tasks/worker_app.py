"""The product's Celery app plus the test job kinds, for worker subprocesses started by tests:
``celery -A tests.ops.tasks.worker_app worker …``."""

import django

from dashboard.celery import app  # noqa: F401 - the app celery -A looks for

django.setup()

import tests.ops.actions.kinds  # noqa: E402,F401 - registers the test kinds in the worker
