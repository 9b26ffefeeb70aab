"""`make demo`: the whole product on this machine, the simulated AWS estate included.

Steps:
1. migrate the database and collect static files;
2. create the demo operator login (printed at the end);
3. start the sandbox (a simulated AWS estate on 127.0.0.1) and wait until it answers;
4. register the sandbox's accounts as monitored accounts (the same way an admin would);
5. start the web server (gunicorn), one Celery worker per queue (pollers, alerts, actions) and Celery beat;
6. queue a first inventory poll so the pages fill in at once;
7. wait; Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "5055"))
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
DEMO_USER = os.environ.get("DEMO_USER", "demo")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "lambda-ops-demo")
# (queue, concurrency): pollers do the volume; alerts and actions need only be free when asked.
WORKERS = (("pollers", 2), ("alerts", 1), ("actions", 1))


def _wait_port(port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise SystemExit(f"{what} did not start on 127.0.0.1:{port} within {timeout:.0f} s")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{SANDBOX_PORT}")
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The sandbox writes a day of history; read all of it on the first polls so the charts
    # have something to show at once (the defaults read the last hour, then keep up).
    env.setdefault("METRICS_INITIAL_BACKFILL_MINUTES", "1440")
    env.setdefault("LOGS_INITIAL_BACKFILL_MINUTES", "1440")
    env.setdefault("LOGS_MAX_WINDOW_MINUTES", "360")
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def main() -> None:
    env = _env()
    procs: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, *cmd: str) -> None:
        procs.append((name, subprocess.Popen(list(cmd), cwd=ROOT, env=env, start_new_session=True)))

    def stop(*_args) -> None:
        for name, proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        print("\nLambda Ops demo stopped.")
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print("• migrating the database")
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _manage(env, "createuser", DEMO_USER, "--role", "operator", "--password", DEMO_PASSWORD, "--admin")

    print(f"• starting the sandbox AWS estate on 127.0.0.1:{SANDBOX_PORT} (seeding and a day of history)")
    start("sandbox", sys.executable, "-m", "sandbox", "demo", "--host", "127.0.0.1", "--port", str(SANDBOX_PORT))
    _wait_port(SANDBOX_PORT, "the sandbox")
    _accounts_import(env)

    print(f"• starting web on 127.0.0.1:{WEB_PORT}, a Celery worker per queue and Celery beat")
    start("web", sys.executable, "-m", "gunicorn", "dashboard.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-w", "2", "--timeout", "60")
    # One worker per queue, as in compose: alerts and actions never wait behind a polling backlog.
    for queue, concurrency in WORKERS:
        start(f"worker-{queue}", sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queue,
              "-c", str(concurrency), "-n", f"{queue}@%h", "-l", "INFO")
    start("beat", sys.executable, "-m", "celery", "-A", "dashboard", "beat", "-l", "INFO", "-s", "/tmp/lambdaops-celerybeat-schedule")
    _wait_port(WEB_PORT, "the web server")
    _manage(env, "shell", "-c", "from ops.tasks.pollers import poll_inventory_all; poll_inventory_all.delay()")

    print(
        f"\nLambda Ops is running: http://127.0.0.1:{WEB_PORT}/\n"
        f"  log in as {DEMO_USER} / {DEMO_PASSWORD} (operator, admin)\n"
        f"  simulated AWS: {env['AWS_ENDPOINT_URL']}  (python -m sandbox scenario deploy-regression)\n"
        "  Ctrl-C stops everything.\n"
    )
    while True:
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the demo")
                stop()
        time.sleep(1)


def _accounts_import(env: dict[str, str]) -> None:
    """Register the sandbox's accounts through the ordinary `account import` command."""
    listing = subprocess.run(
        [sys.executable, "-m", "sandbox", "accounts", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if listing.returncode != 0:
        raise SystemExit(f"could not read the sandbox accounts:\n{listing.stderr}")
    result = subprocess.run(
        [sys.executable, "manage.py", "account", "import", "-"],
        cwd=ROOT, env=env, input=listing.stdout, capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        raise SystemExit(f"could not register the sandbox accounts:\n{result.stderr}")
    print(result.stdout.rstrip())


if __name__ == "__main__":
    main()
