"""Helpers for pytest in any package: an in-process sandbox, a seeded estate, traffic and the ledger.

    server = start_server()                      # http://127.0.0.1:<port>
    estate = seed_estate(server.endpoint, small=True)
    generate(server, start=datetime(2026, 1, 1, tzinfo=timezone.utc), minutes=30, seed=1)
    rows = ledger(server, function="orders-api")
    server.reset(); server.stop()
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from .estate import (ACCOUNTS, EXTERNAL_ID, PROD_ACCOUNT_ID, REGIONS, STAGING_ACCOUNT_ID, STAGING_ROLE_ARN,  # noqa: F401
                     Estate, FunctionSpec)
from .runner import backfill, generate, register_local  # noqa: F401
from .server import SandboxServer

__all__ = ["SandboxServer", "start_server", "seed_estate", "generate", "backfill", "ledger", "ledger_totals",
           "set_scenario", "add_fault", "clear_faults", "async_invocations", "cloudtrail_delay", "Estate", "FunctionSpec", "ACCOUNTS", "REGIONS",
           "PROD_ACCOUNT_ID", "STAGING_ACCOUNT_ID", "STAGING_ROLE_ARN", "EXTERNAL_ID"]


def start_server(host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start the sandbox in this process on a free loopback port (no-Docker Lambda configured)."""
    server = SandboxServer(host, port).start()
    register_local(server.endpoint)
    return server


def seed_estate(endpoint: str | SandboxServer, *, small: bool = True, specs: list[FunctionSpec] | None = None) -> Estate:
    """Create the estate (small: 6 functions over both accounts; or exactly ``specs``) through the AWS APIs."""
    from .estate import seed

    ep = endpoint.endpoint if isinstance(endpoint, SandboxServer) else endpoint
    return seed(ep, small=small, specs=specs)


def _endpoint(target: str | SandboxServer) -> str:
    return (target.endpoint if isinstance(target, SandboxServer) else str(target)).rstrip("/")


def ledger(target: str | SandboxServer, *, function: str | None = None, start: datetime | str | None = None,
           end: datetime | str | None = None, account: str | None = None, region: str | None = None,
           by_version: bool = False) -> list[dict[str, Any]]:
    """Ground truth rows per function (and version with ``by_version``) per minute.

    Each row: account, region, function, minute (ISO), [version], invocations, errors, throttles,
    cold_starts, billed_duration_ms, billed_gb_s, dlq_messages_sent, destination_messages_sent, timeouts.
    """
    if isinstance(target, SandboxServer):
        from . import state

        return state.LEDGER.query(function=function, start=start, end=end, account=account, region=region,
                                  by_version=by_version)
    q = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in
         {"function": function, "start": start, "end": end, "account": account, "region": region,
          "by_version": "1" if by_version else None}.items() if v}
    url = f"{_endpoint(target)}/_sandbox/ledger?{urllib.parse.urlencode(q)}"
    return json.loads(urllib.request.urlopen(url, timeout=60).read())["rows"]


def ledger_totals(target: str | SandboxServer, **kw: Any) -> dict[str, float]:
    rows = ledger(target, **kw)
    out: dict[str, float] = {}
    for r in rows:
        for k, v in r.items():
            if isinstance(v, (int, float)):
                out[k] = out.get(k, 0) + v
    return out


def set_scenario(target: str | SandboxServer, name: str, *, function: str | None = None,
                 account: str | None = None, region: str | None = None) -> dict[str, Any]:
    from .scenarios import activate

    return activate(_endpoint(target), name, function=function, account=account, region=region)


def cloudtrail_deliver(target: str | SandboxServer) -> int:
    """Make every CloudTrail event still held by the delivery delay visible now; returns how many."""
    req = urllib.request.Request(f"{_endpoint(target)}/_sandbox/cloudtrail", data=json.dumps({"deliver": True}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())["delivered"]


def add_fault(target: str | SandboxServer, **rule: Any) -> dict[str, Any]:
    req = urllib.request.Request(f"{_endpoint(target)}/_sandbox/faults", data=json.dumps(rule).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def clear_faults(target: str | SandboxServer) -> None:
    req = urllib.request.Request(f"{_endpoint(target)}/_sandbox/faults", method="DELETE")
    urllib.request.urlopen(req, timeout=30).read()


def cloudtrail_delay(target: str | SandboxServer, seconds: float) -> dict[str, Any]:
    """Set how long after a Lambda write its CloudTrail event becomes visible (a reset restores
    the default, ``SANDBOX_CLOUDTRAIL_DELAY_S`` or 180 s)."""
    req = urllib.request.Request(f"{_endpoint(target)}/_sandbox/cloudtrail", data=json.dumps({"delay_s": seconds}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def async_invocations(target: str | SandboxServer, *, function: str | None = None) -> list[dict[str, Any]]:
    """Every Invoke with InvocationType=Event the sandbox accepted (of one function, by name):
    account, region, function, qualifier, payload (bytes), at."""
    import base64

    q = urllib.parse.urlencode({"function": function} if function else {})
    rows = json.loads(urllib.request.urlopen(f"{_endpoint(target)}/_sandbox/invocations?{q}", timeout=30).read())["invocations"]
    for row in rows:
        row["payload"] = base64.b64decode(row.pop("payload_b64"))
    return rows
