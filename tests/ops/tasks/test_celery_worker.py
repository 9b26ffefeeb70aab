"""The inventory poll runs in a real Celery worker process, over real Redis, into real Postgres."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from dashboard.celery import app
from ops.models import Function, PollStatus
from tests.factories import AccountFactory
from tests.ops.pollers.test_inventory import _estate

pytestmark = pytest.mark.django_db(transaction=True)


def test_inventory_poll_runs_in_a_real_worker(aws):
    _estate()
    account = AccountFactory(account_id="123456789012", regions=["us-east-1"])
    queue = f"pollers-test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "AWS_ENDPOINT_URL": aws,
        "AWS_MAX_ATTEMPTS": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queue, "--pool", "solo", "-c", "1",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        app.send_task("ops.tasks.pollers.poll_inventory", args=[account.pk, "us-east-1"], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not PollStatus.objects.filter(last_success_at__isnull=False).exists():
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert sorted(Function.objects.values_list("name", flat=True)) == ["mailer", "orders"], output[-2000:]
    assert PollStatus.objects.get(account=account).items == 2
