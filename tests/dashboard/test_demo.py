"""The demo's start-up plan and its per-copy files (the full `make demo` is run by hand)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dashboard import demo
from ops.models import PollSource, PollStatus
from tests.factories import AccountFactory
from tests.solo_worker import solo_worker


def test_first_polls_run_the_inventory_then_metrics_logs_and_dlqs_per_scope():
    plan = demo.first_polls([(7, "us-east-1"), (7, "eu-west-1"), (9, "us-east-1")])
    assert len(plan) == 3
    for step, scope in zip(plan, [(7, "us-east-1"), (7, "eu-west-1"), (9, "us-east-1")], strict=True):
        first, then = step.tasks
        assert (first.task, tuple(first.args), first.immutable) == ("ops.tasks.pollers.poll_inventory", scope, True)
        # Both start once this scope's inventory has committed its functions, and run side by side.
        assert sorted((s.task, tuple(s.args), s.immutable) for s in then.tasks) == [
            ("ops.tasks.pollers.poll_dlq", scope, True),
            ("ops.tasks.pollers.poll_logs", scope, True),
            ("ops.tasks.pollers.poll_metrics", scope, True),
        ]
    assert demo.first_polls([]) == []


@pytest.mark.django_db(transaction=True)
def test_the_plan_runs_in_a_real_worker_inventory_first(aws, settings):
    """Linked, so no result backend is needed: metrics, logs and DLQs start after the inventory committed."""
    from tests.ops.pollers.test_inventory import _estate

    assert settings.CELERY_RESULT_BACKEND is None
    _estate()
    account = AccountFactory(account_id="123456789012", regions=["us-east-1"])
    (step,) = demo.first_polls([(account.pk, "us-east-1")])
    queue = f"pollers-test-{uuid.uuid4().hex[:8]}"
    for sig in (step.tasks[0], *step.tasks[1].tasks):
        sig.set(queue=queue)  # this test's own worker, not a live `pollers` queue
    with solo_worker(queue, aws=aws) as worker:
        step.apply_async()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and PollStatus.objects.filter(last_success_at__isnull=False).count() < 4:
            time.sleep(0.5)
    output = worker.output
    statuses = {st.source: st for st in PollStatus.objects.filter(account=account)}
    assert sorted(statuses) == [PollSource.DLQ, PollSource.INVENTORY, PollSource.LOGS, PollSource.METRICS], output[-2000:]
    assert all(st.last_success_at for st in statuses.values()), output[-2000:]
    inventory = statuses[PollSource.INVENTORY]
    assert inventory.items == 2
    assert statuses[PollSource.METRICS].last_started_at >= inventory.last_success_at
    assert statuses[PollSource.LOGS].last_started_at >= inventory.last_success_at
    assert statuses[PollSource.DLQ].last_started_at >= inventory.last_success_at


def test_each_copy_keeps_its_own_beat_schedule_and_control_socket():
    assert demo.run_dir(8000) == Path("var/demo-8000")
    assert demo.run_dir(8102) != demo.run_dir(8112)
    # A Unix socket path may have at most 107 bytes; relative to the checkout it stays short.
    assert len(str(demo.run_dir(65535) / "gunicorn.ctl")) < 40


def test_the_demo_runs_with_debug_off_and_a_key_of_the_checkouts_own(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    for name in ("DEBUG", "SECRET_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    env = demo._env()
    assert "DEBUG" not in env  # the settings' default: off, as the README says
    key = (tmp_path / "var" / "secret_key").read_text().strip()
    assert env["SECRET_KEY"] == key and len(key) >= 50
    assert demo._env()["SECRET_KEY"] == key  # kept across restarts
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{demo.SANDBOX_PORT}"
    assert env["SANDBOX_PORT"] == str(demo.SANDBOX_PORT)
    monkeypatch.setenv("SECRET_KEY", "set-by-the-user-" + "x" * 40)
    assert demo._env()["SECRET_KEY"] == "set-by-the-user-" + "x" * 40


@pytest.mark.parametrize("code", [0, 1])
def test_stopping_ends_every_child_and_exits_with_the_code_given(code, capsys):
    """0 after Ctrl-C; 1 when the sandbox failed to seed or a child died, so the caller sees it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    with pytest.raises(SystemExit) as exited:
        demo.stop_all([("sleeper", child)], code=code)
    assert exited.value.code == code
    assert child.poll() is not None  # ended by SIGTERM, not left behind
    assert capsys.readouterr().out.strip() == (
        "Lambda Ops demo stopped." if code == 0 else "Lambda Ops demo stopped after a failure.")
