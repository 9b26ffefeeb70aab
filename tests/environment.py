"""Loaded first (``-p tests.environment`` in pyproject's addopts), before pytest-django reads the
settings: the suite runs with DEBUG off, as production does, so it needs a SECRET_KEY of its own.
Subprocesses the tests start (Celery worker, sandbox, manage.py) inherit it."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-insecure-key-not-for-any-deployment")
