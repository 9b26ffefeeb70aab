"""Command line: ``python -m sandbox {serve,seed,backfill,run,scenario,faults,accounts,ledger,demo}``.

Where the sandbox is: ``--endpoint``, else ``$AWS_ENDPOINT_URL`` (what the product itself uses),
else ``http://127.0.0.1:$SANDBOX_PORT`` (the port ``make demo`` starts it on; 5055 by default).
``serve`` and ``demo`` listen on ``$SANDBOX_PORT`` unless ``--port`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
from typing import Any

from .estate import ACCOUNTS, REGIONS, default_endpoint

DEFAULT_PORT = 5055


def _port_default() -> int:
    raw = os.environ.get("SANDBOX_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"SANDBOX_PORT: expected a port number, got {raw!r}")
    return int(raw)


def _defaults_endpoint() -> None:
    # The sandbox's own modules read AWS_ENDPOINT_URL (estate.default_endpoint); a demo on
    # another port is found through SANDBOX_PORT, as `make demo` prints it.
    if not os.environ.get("AWS_ENDPOINT_URL"):
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{_port_default()}"


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default=None,
                   help="sandbox URL (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:$SANDBOX_PORT, "
                        f"port {DEFAULT_PORT} unless set)")


def _defaults_env() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _progress(label: str):
    last = [0.0]

    def cb(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] > 2 or done == total:
            last[0] = now
            print(f"{label}: {done}/{total} slices", file=sys.stderr, flush=True)
    return cb


def cmd_serve(a: argparse.Namespace) -> None:
    from .server import SandboxServer

    server = SandboxServer(a.host, a.port)
    print(f"sandbox listening on {server.endpoint}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def cmd_seed(a: argparse.Namespace) -> None:
    from .estate import seed

    t = time.monotonic()
    estate = seed(a.endpoint or default_endpoint(), small=a.small)
    print(f"seeded {len(estate.functions)} functions, {len(estate.queues)} queues in "
          f"{time.monotonic() - t:.1f}s", flush=True)
    if a.json:
        print(json.dumps(estate.to_json(), indent=2))


def cmd_backfill(a: argparse.Namespace) -> None:
    from .runner import backfill

    t = time.monotonic()
    counts = backfill(a.endpoint or default_endpoint(), days=a.days, seed=a.seed, rate_scale=a.rate_scale,
                      progress=_progress("backfill"))
    print(f"backfilled {a.days} day(s) in {time.monotonic() - t:.1f}s: {counts}", flush=True)


def cmd_run(a: argparse.Namespace) -> None:
    from .runner import run_live

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        run_live(a.endpoint or default_endpoint(), speed=a.speed, seed=a.seed, rate_scale=a.rate_scale,
                 stop=stop.is_set, log=lambda m: print(m, flush=True), retention_days=a.retention_days)
    except KeyboardInterrupt:
        pass


def cmd_scenario(a: argparse.Namespace) -> None:
    from .scenarios import activate

    print(json.dumps(activate(a.endpoint, a.name, function=a.function, account=a.account, region=a.region),
                     indent=2))


def cmd_faults(a: argparse.Namespace) -> None:
    from .runner import _get, _post

    endpoint = (a.endpoint or default_endpoint()).rstrip("/")
    if a.action == "clear":
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/_sandbox/faults", method="DELETE"), timeout=30)
        print("faults cleared")
        return
    if a.action == "list":
        print(json.dumps(_get(endpoint, "/_sandbox/faults"), indent=2))
        return
    if not a.service:
        raise SystemExit("faults add needs --service")
    rule: dict[str, Any] = {"service": a.service, "operation": a.operation or "*", "error": a.error,
                            "rate": a.rate, "count": a.count, "account": a.account, "region": a.region,
                            "delay_ms": a.delay_ms, "status": a.status}
    print(json.dumps(_post(endpoint, "/_sandbox/faults", {k: v for k, v in rule.items() if v is not None}),
                     indent=2))


def cmd_accounts(a: argparse.Namespace) -> None:
    if a.json:
        print(json.dumps({"accounts": ACCOUNTS, "regions": list(REGIONS)}, indent=2))
        return
    for acct in ACCOUNTS:
        how = f"assume {acct['role_arn']} (external id {acct['external_id']})" if acct["role_arn"] else "default credentials"
        print(f"{acct['name']:8} {acct['account_id']}  {', '.join(acct['regions'])}  via {how}")


def cmd_ledger(a: argparse.Namespace) -> None:
    from .testing import ledger

    rows = ledger(a.endpoint or default_endpoint(), function=a.function, start=a.start, end=a.end,
                  by_version=a.by_version)
    print(json.dumps(rows, indent=2))


def cmd_demo(a: argparse.Namespace) -> None:
    from .estate import seed
    from .runner import backfill, register_local, run_live
    from .server import SandboxServer

    server = SandboxServer(a.host, a.port).start()
    register_local(server.endpoint)
    print(f"sandbox listening on {server.endpoint}", flush=True)
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    report = _progress("backfill")

    def progress(done: int, total: int) -> None:
        report(done, total)
        if stop.is_set():
            raise KeyboardInterrupt

    try:
        t = time.monotonic()
        estate = seed(server.endpoint, small=a.small)
        print(f"seeded {len(estate.functions)} functions in {time.monotonic() - t:.1f}s", flush=True)
        if a.days > 0 and not stop.is_set():
            t = time.monotonic()
            counts = backfill(server, days=a.days, seed=a.seed, progress=progress)
            print(f"backfilled {a.days} day(s) in {time.monotonic() - t:.1f}s: {counts}", flush=True)
        print(f"live traffic running; switch scenarios with `{scenario_hint(server.endpoint)}` (Ctrl-C stops)",
              flush=True)
        run_live(server, speed=a.speed, seed=a.seed, stop=stop.is_set,
                 log=(lambda m: print(m, flush=True)) if a.verbose else None,
                 retention_days=max(a.retention_days, a.days + 1) if a.retention_days else None)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def scenario_hint(endpoint: str, name: str = "NAME") -> str:
    """A scenario command that works as printed, from the checkout, for a sandbox at ``endpoint``."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(root))  # .venv/bin/python, run from the checkout
    except ValueError:
        shown = str(python)
    port = endpoint.rstrip("/").rsplit(":", 1)[-1]
    prefix = "" if port == str(DEFAULT_PORT) else f"SANDBOX_PORT={port} "
    return f"{prefix}{shown} -m sandbox scenario {name}"


def main(argv: list[str] | None = None) -> None:
    _defaults_env()
    _defaults_endpoint()
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Simulated AWS Lambda estate")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the sandbox server in the foreground")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=_port_default(), help="default: $SANDBOX_PORT, else 5055")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("seed", help="create the estate (accounts, functions, aliases, queues)")
    _client_args(s)
    s.add_argument("--small", action="store_true", help="5 functions instead of 30")
    s.add_argument("--json", action="store_true", help="print the estate as JSON")
    s.set_defaults(func=cmd_seed)

    s = sub.add_parser("backfill", help="write N days of history up to now")
    _client_args(s)
    s.add_argument("--days", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--rate-scale", type=float, default=1.0)
    s.set_defaults(func=cmd_backfill)

    s = sub.add_parser("run", help="generate live traffic until Ctrl-C")
    _client_args(s)
    s.add_argument("--speed", type=float, default=1.0, help="simulated minutes per real minute")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--rate-scale", type=float, default=1.0)
    s.add_argument("--retention-days", type=float, default=None,
                   help="drop telemetry older than this many days (default: keep everything)")
    s.set_defaults(func=cmd_run)

    from .state import SCENARIOS

    s = sub.add_parser("scenario", help="switch the running scenario")
    _client_args(s)
    s.add_argument("name", choices=SCENARIOS)
    s.add_argument("--function", default=None)
    s.add_argument("--account", default=None)
    s.add_argument("--region", default=None)
    s.set_defaults(func=cmd_scenario)

    s = sub.add_parser("faults", help="inject AWS errors: add | list | clear")
    _client_args(s)
    s.add_argument("action", choices=("add", "list", "clear"))
    s.add_argument("--service")
    s.add_argument("--operation")
    s.add_argument("--error", default="Throttling")
    s.add_argument("--rate", type=float, default=1.0)
    s.add_argument("--count", type=int, default=None)
    s.add_argument("--account", default=None)
    s.add_argument("--region", default=None)
    s.add_argument("--delay-ms", type=int, default=0)
    s.add_argument("--status", type=int, default=None)
    s.set_defaults(func=cmd_faults)

    s = sub.add_parser("accounts", help="the estate's accounts and regions")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_accounts)

    s = sub.add_parser("ledger", help="ground truth of emitted traffic")
    _client_args(s)
    s.add_argument("--function", default=None)
    s.add_argument("--start", default=None)
    s.add_argument("--end", default=None)
    s.add_argument("--by-version", action="store_true")
    s.set_defaults(func=cmd_ledger)

    s = sub.add_parser("demo", help="serve + seed + backfill + live traffic in one process")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=_port_default(), help="default: $SANDBOX_PORT, else 5055")
    s.add_argument("--days", type=float, default=1.0)
    s.add_argument("--speed", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--small", action="store_true")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--retention-days", type=float, default=2.0,
                   help="drop telemetry older than this (at least --days + 1; 0 keeps everything)")
    s.set_defaults(func=cmd_demo)

    args = p.parse_args(argv)
    try:
        args.func(args)
    except urllib.error.HTTPError:
        raise  # the sandbox answered; its error is the message
    except (urllib.error.URLError, ConnectionError) as exc:
        # Nobody answers there: say where we looked and how to point elsewhere, not a traceback.
        endpoint = getattr(args, "endpoint", None) or default_endpoint()
        reason = getattr(exc, "reason", exc)
        raise SystemExit(
            f"no sandbox answers at {endpoint} ({reason}).\n"
            "Start one with `make demo` (or `python -m sandbox demo --port N`), and point this command at it with "
            "SANDBOX_PORT=N, AWS_ENDPOINT_URL=http://127.0.0.1:N or --endpoint."
        ) from None


if __name__ == "__main__":
    main()
