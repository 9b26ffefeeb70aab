"""`make demo`: the whole product on this machine, the simulated AWS estate included.

Steps:
1. refuse ports that something else already answers on (a second copy needs its own);
2. start the sandbox (a simulated AWS estate on 127.0.0.1), which seeds itself meanwhile;
3. migrate the database, collect static files (DEBUG is off, as in production: WhiteNoise
   serves the collected files), create the demo operator login (printed at the end) and
   register the sandbox's accounts as monitored accounts (the same way an admin would);
4. start the web server (gunicorn), one Celery worker per queue (pollers, alerts, actions) and
   Celery beat, with their files (beat schedule, gunicorn's control socket) in var/demo-WEB_PORT/;
5. once the sandbox has its estate and a day of history, queue the first polls: per scope the
   inventory, then metrics and logs (they read the functions the inventory found), so the pages
   fill in at once instead of at beat's first ticks;
6. wait; Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "5055"))
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
DEMO_USER = os.environ.get("DEMO_USER", "demo")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "lambda-ops-demo")
# (queue, concurrency): pollers do the volume; alerts and actions need only be free when asked.
WORKERS = (("pollers", 2), ("alerts", 1), ("actions", 1))
# What the sandbox prints once its estate is seeded and its history written (sandbox/__main__.py).
SANDBOX_READY = "live traffic running"


def run_dir(web_port: int = WEB_PORT) -> Path:
    """This copy's own files: two demos on one machine (different WEB_PORT) never share them.

    Relative to the checkout (the processes run there), which keeps the control socket's path
    far below the 108 bytes a Unix socket path may have.
    """
    return Path("var") / f"demo-{web_port}"


def first_polls(scopes: list[tuple[int, str]]) -> list:
    """The start-up plan: per (account id, region), the inventory, then metrics, logs and DLQs at once.

    A Celery chain per scope (a link, so no result backend is needed): metrics and logs start
    when that scope's inventory has committed its functions, and neither waits for other scopes.
    """
    from celery import chain, group

    from ops.tasks.pollers import poll_dlq, poll_inventory, poll_logs, poll_metrics

    return [
        chain(poll_inventory.si(account_id, region),
              group(poll_metrics.si(account_id, region), poll_logs.si(account_id, region), poll_dlq.si(account_id, region)))
        for account_id, region in scopes
    ]


def queue_first_polls() -> int:
    """Queue :func:`first_polls` for every enabled scope (run inside Django: ``manage.py shell``)."""
    from ops.pollers.base import enabled_scopes

    from ops.tasks.pollers import permissions_check

    scopes = enabled_scopes()
    plan = first_polls([(account.pk, region) for account, region in scopes])
    for step in plan:
        step.apply_async()
    # The accounts' permission tables (account and status pages) filled from the start.
    for account_pk in dict.fromkeys(account.pk for account, _ in scopes):
        permissions_check.delay(account_pk)
    return len(plan)


def _secret_key() -> str:
    """The environment's SECRET_KEY, else one made for this checkout on first use (var/secret_key,
    the file the Makefile uses too), so sessions survive a restart and nothing is hard-coded."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = ROOT / "var" / "secret_key"
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50) + "\n")
    return path.read_text().strip()


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(port):
            return
        time.sleep(0.3)
    raise SystemExit(f"{what} did not start on 127.0.0.1:{port} within {timeout:.0f} s")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{SANDBOX_PORT}")
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["SANDBOX_PORT"] = str(SANDBOX_PORT)
    env["SECRET_KEY"] = _secret_key()
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Links in notifications (function page, rollback, acknowledge) point at this demo's web port.
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{WEB_PORT}")
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


def _echo_until(proc: subprocess.Popen, marker: str, seen: threading.Event) -> None:
    """Copy a child's output to ours, and say when ``marker`` went by."""
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if marker in line:
            seen.set()


def stop_all(procs: list[tuple[str, subprocess.Popen]], *, code: int) -> NoReturn:
    """Stop every child (its whole process group), newest first, then exit with ``code``: 0 when
    asked to stop, 1 when something failed, so ``make demo`` and scripts see the failure."""
    for _name, proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for _name, proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print("\nLambda Ops demo stopped." if code == 0 else "\nLambda Ops demo stopped after a failure.")
    raise SystemExit(code)


def main() -> None:
    for port, name in ((WEB_PORT, "WEB_PORT"), (SANDBOX_PORT, "SANDBOX_PORT")):
        if _answers(port):
            raise SystemExit(
                f"127.0.0.1:{port} is already in use ({name}); another copy may be running there. "
                "A second copy needs its own WEB_PORT, SANDBOX_PORT, DATABASE_URL and REDIS_URL (see README)."
            )
    env = _env()
    procs: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, *cmd: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, start_new_session=True, **kwargs)
        procs.append((name, proc))
        return proc

    def stop(*_args) -> None:
        stop_all(procs, code=0)  # Ctrl-C or SIGTERM: the normal way to end the demo

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    own = ROOT / run_dir()
    own.mkdir(parents=True, exist_ok=True)

    # The sandbox first: seeding it and writing its day of history (about 25 s here) is the
    # longest step, and needs nothing of ours, so it overlaps with migrate and collectstatic.
    print(f"• starting the sandbox AWS estate on 127.0.0.1:{SANDBOX_PORT} (seeding and a day of history)")
    sandbox = start("sandbox", sys.executable, "-m", "sandbox", "demo", "--host", "127.0.0.1", "--port", str(SANDBOX_PORT),
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    sandbox_ready = threading.Event()
    threading.Thread(target=_echo_until, args=(sandbox, SANDBOX_READY, sandbox_ready), daemon=True).start()

    print("• migrating the database, collecting static files")
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _manage(env, "createuser", DEMO_USER, "--role", "operator", "--password", DEMO_PASSWORD, "--admin")
    _wait_port(SANDBOX_PORT, "the sandbox")
    _accounts_import(env)

    print(f"• starting web on 127.0.0.1:{WEB_PORT}, a Celery worker per queue and Celery beat")
    start("web", sys.executable, "-m", "gunicorn", "dashboard.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-w", "2",
          "--timeout", "60", "--control-socket", str(run_dir() / "gunicorn.ctl"))
    # One worker per queue, as in compose: alerts and actions never wait behind a polling backlog.
    for queue, concurrency in WORKERS:
        start(f"worker-{queue}", sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queue,
              "-c", str(concurrency), "-n", f"{queue}@%h", "-l", "INFO")
    start("beat", sys.executable, "-m", "celery", "-A", "dashboard", "beat", "-l", "INFO",
          "-s", str(run_dir() / "celerybeat-schedule"))
    _wait_port(WEB_PORT, "the web server")
    print(f"• the login page answers on http://127.0.0.1:{WEB_PORT}/; waiting for the sandbox's history")

    deadline = time.monotonic() + 600
    while not sandbox_ready.wait(1):
        if sandbox.poll() is not None or time.monotonic() > deadline:
            print("the sandbox did not finish seeding; stopping the demo")
            stop_all(procs, code=1)
    queued = _manage(env, "shell", "--no-imports", "-c", "from dashboard.demo import queue_first_polls; print(queue_first_polls())")
    print(f"• first polls queued for {queued.strip().splitlines()[-1]} account × region scopes (inventory, then metrics, logs and DLQs)")

    from sandbox.__main__ import scenario_hint

    print(
        f"\nLambda Ops is running: http://127.0.0.1:{WEB_PORT}/\n"
        f"  log in as {DEMO_USER} / {DEMO_PASSWORD} (operator, admin)\n"
        f"  simulated AWS: {env['AWS_ENDPOINT_URL']}\n"
        f"  make something break: {scenario_hint(env['AWS_ENDPOINT_URL'], 'deploy-regression')}\n"
        "  Ctrl-C stops everything.\n"
    )
    while True:
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the demo")
                stop_all(procs, code=1)
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
