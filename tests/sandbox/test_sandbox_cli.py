"""The command line end to end: `demo` in a subprocess, a scenario switched from another process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sandbox_aws import make_client

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in path.read_text():
            return
        assert proc.poll() is None, path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen:\n{path.read_text()}")


def test_demo_then_deploy_regression_shows_errors(tmp_path):
    """SANDBOX_PORT alone places the demo and finds it; the printed scenario command works as printed."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "SANDBOX_PORT": str(port)}
    env.pop("AWS_ENDPOINT_URL", None)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sandbox", "demo", "--small",
                                 "--days", "0.02", "--speed", "4"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        _wait_for(log, "live traffic running", proc)
        assert f"sandbox listening on {endpoint}" in log.read_text()
        hint = re.search(r"switch scenarios with `([^`]+)`", log.read_text()).group(1)
        assert hint.startswith(f"SANDBOX_PORT={port} ") and hint.endswith(" -m sandbox scenario NAME")
        command = hint.replace("NAME", "deploy-regression --function orders-api --account 123456789012")
        res = subprocess.run(["bash", "-c", command], cwd=ROOT, env={k: v for k, v in env.items() if k != "SANDBOX_PORT"},
                             capture_output=True, text=True, timeout=60, check=True)
        version = json.loads(res.stdout)["version"]
        cw = make_client(endpoint, "cloudwatch")
        dims = [{"Name": "FunctionName", "Value": "orders-api"}, {"Name": "Resource", "Value": "orders-api:live"},
                {"Name": "ExecutedVersion", "Value": version}]
        errors = 0.0
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not errors:
            now = datetime.now(timezone.utc)
            out = cw.get_metric_data(StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(hours=1),
                                     MetricDataQueries=[{"Id": "e", "MetricStat": {"Metric": {
                                         "Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": dims},
                                         "Period": 60, "Stat": "Sum"}}])
            errors = sum(out["MetricDataResults"][0]["Values"])
            time.sleep(1)
        assert errors > 0
        ledger = subprocess.run([sys.executable, "-m", "sandbox", "ledger", "--function", "orders-api",
                                 "--by-version"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60, check=True)
        assert any(r["version"] == version and r["errors"] for r in json.loads(ledger.stdout))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_a_command_with_no_sandbox_there_says_where_it_looked_without_a_traceback():
    port = _free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    res = subprocess.run([sys.executable, "-m", "sandbox", "scenario", "deploy-regression"], cwd=ROOT,
                         env={**env, "SANDBOX_PORT": str(port)}, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert f"no sandbox answers at http://127.0.0.1:{port}" in res.stderr and "SANDBOX_PORT=N" in res.stderr
    assert "Traceback" not in res.stderr
    explicit = subprocess.run([sys.executable, "-m", "sandbox", "faults", "list"], cwd=ROOT,
                              env={**env, "SANDBOX_PORT": str(port), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port + 1}"},
                              capture_output=True, text=True, timeout=60)
    assert f"no sandbox answers at http://127.0.0.1:{port + 1}" in explicit.stderr  # AWS_ENDPOINT_URL wins
    bad = subprocess.run([sys.executable, "-m", "sandbox", "faults", "list"], cwd=ROOT,
                         env={**env, "SANDBOX_PORT": "eighty"}, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "SANDBOX_PORT: expected a port number, got 'eighty'" in bad.stderr


def test_the_scenario_hint_names_the_port_only_when_it_is_not_the_default():
    from sandbox.__main__ import scenario_hint

    python = Path(sys.executable)
    shown = str(python.relative_to(ROOT)) if python.is_relative_to(ROOT) else str(python)
    assert scenario_hint("http://127.0.0.1:5055", "steady") == f"{shown} -m sandbox scenario steady"
    assert scenario_hint("http://127.0.0.1:5102/", "steady") == f"SANDBOX_PORT=5102 {shown} -m sandbox scenario steady"
