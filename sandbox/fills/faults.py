"""Fault injection: runtime rules that answer matching AWS calls with protocol-correct errors.

A rule (JSON, ``POST /_sandbox/faults``)::

    {"service": "cloudwatch", "operation": "GetMetricData", "error": "Throttling",
     "rate": 1.0, "count": 3, "account": "210987654321", "region": null,
     "delay_ms": 0, "status": null, "message": null}

``operation`` may be omitted or ``"*"``; ``count`` limits how many calls the rule hits;
``error`` null with ``delay_ms`` only slows calls down. ``"per_entry": true`` on an SQS batch
call (SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch) fails single entries
instead of the call: each entry fails with probability ``rate`` and comes back in the answer's
``Failed`` list (``count`` then limits failed entries), the others are really done.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

PROTOCOL = {
    "cloudwatch": "cbor",
    "logs": "json",
    "sqs": "json",
    "lambda": "rest-json",
    "xray": "rest-json",
    "sts": "query",
    "iam": "query",
    "cloudtrail": "json",
}


@dataclass
class FaultRule:
    service: str
    operation: str = "*"
    error: str | None = "Throttling"
    rate: float = 1.0
    count: int | None = None
    account: str | None = None
    region: str | None = None
    delay_ms: int = 0
    status: int | None = None
    message: str | None = None
    per_entry: bool = False
    hits: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def matches(self, service: str, operation: str, account: str, region: str) -> bool:
        if self.service not in ("*", service):
            return False
        if self.operation not in ("*", "", None, operation):
            return False
        if self.account and self.account != account:
            return False
        if self.region and self.region != region:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        return True


class FaultRegistry:
    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def add(self, data: dict[str, Any]) -> FaultRule:
        allowed = {k: v for k, v in data.items() if k in FaultRule.__dataclass_fields__ and k not in ("hits", "id")}
        if "service" not in allowed:
            raise ValueError("a fault rule needs a service")
        allowed["service"] = normalise_service(allowed["service"])
        rule = FaultRule(**allowed)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]

    def pick(self, service: str, operation: str, account: str, region: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.per_entry and rule.matches(service, operation, account, region):
                    return rule  # the rate applies to each entry (entry_fails), not to the call
                if rule.matches(service, operation, account, region) and self._rng.random() < rule.rate:
                    rule.hits += 1
                    return rule
        return None

    def entry_fails(self, rule: FaultRule) -> bool:
        with self._lock:
            if rule.count is not None and rule.hits >= rule.count:
                return False
            if self._rng.random() < rule.rate:
                rule.hits += 1
                return True
        return False


def normalise_service(name: str) -> str:
    name = name.lower()
    return {"monitoring": "cloudwatch", "awslambda": "lambda", "cloudwatchlogs": "logs"}.get(name, name)


def _status_for(error: str, protocol: str) -> int:
    e = error.lower()
    if "accessdenied" in e or "unauthorized" in e:
        return 403
    if "internal" in e or "servicefault" in e or "servererror" in e:
        return 500
    if "unavailable" in e:
        return 503
    if ("throttl" in e or "toomany" in e or "ratelimit" in e) and protocol == "rest-json":
        return 429
    return 400


def _cbor_text(s: str) -> bytes:
    data = s.encode("utf-8")
    return _cbor_head(3, len(data)) + data


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 256:
        return bytes([(major << 5) | 24, n])
    if n < 65536:
        return bytes([(major << 5) | 25]) + n.to_bytes(2, "big")
    return bytes([(major << 5) | 26]) + n.to_bytes(4, "big")


def cbor_map(d: dict[str, str]) -> bytes:
    out = _cbor_head(5, len(d))
    for k, v in d.items():
        out += _cbor_text(k) + _cbor_text(v)
    return out


def request_protocol(service: str, environ: dict[str, Any] | None) -> str:
    """The protocol the client actually spoke (botocore may pick JSON or CBOR for CloudWatch)."""
    if environ is not None:
        ctype = environ.get("CONTENT_TYPE", "") or ""
        if "cbor" in ctype or environ.get("HTTP_SMITHY_PROTOCOL"):
            return "cbor"
        if "x-amz-json" in ctype:
            return "json"
        if "x-www-form-urlencoded" in ctype and service not in ("lambda", "xray"):
            return "query"
    return PROTOCOL.get(service, "json")


def error_response(service: str, error: str, message: str, status: int | None = None,
                   environ: dict[str, Any] | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    protocol = request_protocol(service, environ)
    status = status or _status_for(error, protocol)
    rid = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", rid)]
    fault = "Receiver" if status >= 500 else "Sender"
    if protocol == "cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                    ("x-amzn-query-error", f"{error};{fault}")]
        body = cbor_map({"__type": error, "message": message})
    elif protocol == "json":
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-query-error", f"{error};{fault}")]
        body = json.dumps({"__type": error, "message": message}).encode()
    elif protocol == "rest-json":
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", error)]
        body = json.dumps({"message": message, "Type": "User" if status < 500 else "Service"}).encode()
    else:
        headers += [("Content-Type", "text/xml")]
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{error}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
    return status, headers, body


def apply(rule: FaultRule, service: str, operation: str,
          environ: dict[str, Any] | None = None) -> tuple[int, list[tuple[str, str]], bytes] | None:
    if rule.delay_ms:
        time.sleep(rule.delay_ms / 1000.0)
    if not rule.error:
        return None
    msg = rule.message or {
        403: f"User is not authorized to perform: {service}:{operation}",
    }.get(_status_for(rule.error, PROTOCOL.get(service, "json")), "Rate exceeded")
    return error_response(service, rule.error, msg, rule.status, environ)
