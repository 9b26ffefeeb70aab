"""Async invocations (Invoke with InvocationType=Event), recorded per function so tests can see
exactly which payloads were re-invoked: ``GET /_sandbox/invocations?function=NAME``.

moto's no-Docker Lambda answers 202 to an Event invoke and keeps nothing of it.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import parse_qs, unquote

_lock = threading.Lock()
_calls: list[dict[str, Any]] = []


def record(environ: dict[str, Any], body: bytes, status: int, account: str, region: str) -> None:
    if (environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "") != "Event" or status != 202:
        return
    # /2015-03-31/functions/{FunctionName}/invocations
    parts = environ.get("PATH_INFO", "").split("/")
    name = unquote(parts[3]) if len(parts) > 3 else ""
    name = name.split(":")[6] if name.startswith("arn:") and name.count(":") >= 6 else name
    qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [""])[0]
    with _lock:
        _calls.append({"account": account, "region": region, "function": name, "qualifier": qualifier,
                       "payload_b64": base64.b64encode(body).decode(), "at": time.time()})


def query(function: str | None = None) -> list[dict[str, Any]]:
    with _lock:
        return [dict(c) for c in _calls if function in (None, "", c["function"])]


def clear() -> None:
    with _lock:
        _calls.clear()
