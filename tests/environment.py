"""Loaded first (``-p tests.environment`` in pyproject's addopts), before pytest-django reads the
settings: the suite runs with DEBUG off, as production does, so it needs a SECRET_KEY of its own
an ALLOWED_HOSTS that admits the test client, and a STATIC_ROOT that collectstatic fills once (tests/conftest.py: ``collected_static``).
Subprocesses the tests start (Celery worker, sandbox, manage.py) inherit them."""

import os
from pathlib import Path

# Django's test client says "testserver"; only the tests need it among the hosts served.
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("SECRET_KEY", "tests-only-insecure-key-not-for-any-deployment")
# Inside the checkout's var/ (git ignores it), so a second run reuses what the first collected.
os.environ.setdefault("STATIC_ROOT", str(Path(__file__).resolve().parent.parent / "var" / "test-static"))
# Notification tests post to receivers on loopback, which production refuses as a target.
os.environ.setdefault("ALERT_WEBHOOK_ALLOW_PRIVATE", "1")
