"""The inventory poll runs in a real Celery worker process, over real Redis, into real Postgres."""

import time
import uuid

import pytest

from dashboard.celery import app
from ops.models import Function, PollStatus
from tests.factories import AccountFactory
from tests.ops.pollers.test_inventory import _estate
from tests.solo_worker import solo_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_inventory_poll_runs_in_a_real_worker(aws):
    _estate()
    account = AccountFactory(account_id="123456789012", regions=["us-east-1"])
    queue = f"pollers-test-{uuid.uuid4().hex[:8]}"
    with solo_worker(queue, aws=aws) as worker:
        app.send_task("ops.tasks.pollers.poll_inventory", args=[account.pk, "us-east-1"], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not PollStatus.objects.filter(last_success_at__isnull=False).exists():
            time.sleep(0.5)
    output = worker.output
    assert sorted(Function.objects.values_list("name", flat=True)) == ["mailer", "orders"], output[-2000:]
    assert PollStatus.objects.get(account=account).items == 2
