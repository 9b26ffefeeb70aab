"""The Celery wiring: each module is its own queue, acks_late per task, limits, expiring beat ticks."""

from django.conf import settings

from dashboard.celery import app
from dashboard.schedule import beat_schedule


def _ops_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("ops.")}


def test_every_task_is_named_after_its_module_and_routed_to_that_queue():
    tasks = _ops_tasks()
    assert {name.rsplit(".", 1)[0] for name in tasks} == {"ops.tasks.pollers", "ops.tasks.alerts", "ops.tasks.actions"}
    for name, task in tasks.items():
        assert task.__module__ == name.rsplit(".", 1)[0], name
        assert app.amqp.router.route({}, name)["queue"].name == name.split(".")[2]


def test_pollers_ack_late_actions_ack_early_and_every_task_has_limits():
    tasks = _ops_tasks()
    for name, task in tasks.items():
        queue = name.split(".")[2]
        assert task.acks_late is (queue != "actions"), name
        assert task.soft_time_limit and task.time_limit and task.soft_time_limit < task.time_limit, name
    assert tasks["ops.tasks.pollers.poll_metrics"].time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert not hasattr(settings, "CELERY_TASK_ACKS_LATE") and not hasattr(settings, "CELERY_TASK_ALWAYS_EAGER")


def test_every_beat_entry_names_a_real_task_and_expires_after_its_period():
    tasks = _ops_tasks()
    schedule = beat_schedule()
    assert "ops.tasks.alerts.jobs_sweep" in {e["task"] for e in schedule.values()}
    for name, entry in schedule.items():
        assert entry["task"] in tasks, name
        assert entry["options"]["expires"] == entry["schedule"], name


def test_compose_and_the_demo_run_one_worker_per_queue():
    from pathlib import Path

    import yaml

    from dashboard import demo

    compose = yaml.safe_load((Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text())
    workers = {name: svc["command"] for name, svc in compose["services"].items() if "worker" in svc.get("command", [])}
    queues = {name: cmd[cmd.index("-Q") + 1] for name, cmd in workers.items()}
    assert sorted(queues.values()) == ["actions", "alerts", "pollers"]  # one queue each, every queue served
    concurrency = {queues[name]: cmd[cmd.index("-c") + 1] for name, cmd in workers.items()}
    assert concurrency == {"pollers": "2", "alerts": "1", "actions": "1"}
    nodes = {cmd[cmd.index("-n") + 1] for cmd in workers.values()}
    assert nodes == {"pollers@%h", "alerts@%h", "actions@%h"}
    for name, svc in compose["services"].items():
        if name in workers:
            assert svc["healthcheck"]["test"][1].startswith(f"celery -A dashboard inspect ping -d {queues[name]}@$$HOSTNAME")
    assert dict(demo.WORKERS) == {"pollers": 2, "alerts": 1, "actions": 1}


def test_the_visibility_timeout_outlasts_every_late_acked_task_and_is_minutes_not_an_hour():
    """A late-acked task holds its message until it ends: a retry's countdown plus its time limit.
    Redis gives an unacknowledged message to another worker after the visibility timeout, so a
    shorter timeout would run a live task twice, and kombu's default hour would leave a SIGKILLed
    worker's tasks stranded that long."""
    tasks = _ops_tasks()
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    margin = settings.CELERY_VISIBILITY_MARGIN_SECONDS
    late = {name: t for name, t in tasks.items() if t.acks_late}
    holds = {name: t.time_limit + (t.retry_backoff_max if getattr(t, "autoretry_for", ()) else 0) for name, t in late.items()}
    assert holds["ops.tasks.pollers.poll_inventory"] == settings.CELERY_TASK_TIME_LIMIT + settings.CELERY_POLL_RETRY_BACKOFF_MAX
    for name, hold in holds.items():
        assert timeout >= hold + margin, name
    assert timeout == max(holds.values()) + margin  # no longer than it must be
    assert timeout <= 15 * 60
    # Early-acked actions run longer than the timeout: safe only because a worker takes a
    # message when it has a free process (no prefetch), so none waits unacknowledged behind a job.
    early = [t for t in tasks.values() if not t.acks_late]
    assert early and max(t.time_limit for t in early) > timeout
    assert app.conf.worker_disable_prefetch is True and app.conf.worker_prefetch_multiplier == 1
