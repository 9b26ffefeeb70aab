"""The command line end to end: `demo` in a subprocess, a scenario switched from another process."""

from __future__ import annotations

import json
import os
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
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sandbox", "demo", "--port", str(port), "--small",
                                 "--days", "0.02", "--speed", "4"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        _wait_for(log, "live traffic running", proc)
        res = subprocess.run([sys.executable, "-m", "sandbox", "scenario", "deploy-regression", "--function",
                              "orders-api", "--account", "123456789012", "--endpoint", endpoint],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
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
                                 "--by-version", "--endpoint", endpoint], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60, check=True)
        assert any(r["version"] == version and r["errors"] for r in json.loads(ledger.stdout))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
