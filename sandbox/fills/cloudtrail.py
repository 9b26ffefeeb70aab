"""CloudTrail for the sandbox: every mutating Lambda call any client makes becomes a management
event, answered by ``LookupEvents`` after a delivery delay, as AWS does.

moto 5.2.5 has no ``LookupEvents`` and its CloudTrail never sees Lambda calls, so the server
records each Lambda write it answers (:func:`record`, called from ``sandbox/server.py`` with
the request, the answer and the caller's access key) and answers ``LookupEvents`` itself
(:func:`lookup`): newest first, 50 a page with NextToken, StartTime/EndTime, one lookup
attribute (EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource,
AccessKeyId). Events become visible ``delay_s`` after the call (``SANDBOX_CLOUDTRAIL_DELAY_S``,
180 s by default; ``POST /_sandbox/cloudtrail {"delay_s": 0}`` changes it at run time, and
``{"deliver": true}`` makes the events held so far visible at once).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

PAGE_SIZE = 50
DEFAULT_DELAY_S = float(os.environ.get("SANDBOX_CLOUDTRAIL_DELAY_S", "180"))
# Lambda's two "v2" event names (AWS appends it to these only).
_V2 = {"UpdateFunctionCode", "UpdateFunctionConfiguration"}
_NOT_RECORDED = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
_REDACTED = {"environment", "code", "zipFile"}


class Trail:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []  # in call order: {"visible_at", "account", "region", "event"}
        self.delay_s = DEFAULT_DELAY_S

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.delay_s = DEFAULT_DELAY_S

    def add(self, account: str, region: str, event: dict[str, Any], called_at: float) -> None:
        with self._lock:
            self.events.append({"visible_at": called_at + self.delay_s, "account": account, "region": region,
                                "event": event})

    def deliver(self, at: float) -> int:
        """Make every event still held visible from ``at`` (a test's "the delay has passed",
        without sleeping through it); returns how many were held."""
        with self._lock:
            held = [e for e in self.events if e["visible_at"] > at]
            for e in held:
                e["visible_at"] = at
            return len(held)

    def prune(self, before: float) -> int:
        with self._lock:
            keep = [e for e in self.events if e["event"]["_epoch"] >= before]
            dropped = len(self.events) - len(keep)
            self.events[:] = keep
            return dropped

    def visible(self, account: str, region: str, at: float) -> list[dict[str, Any]]:
        with self._lock:
            return [e["event"] for e in self.events
                    if e["account"] == account and e["region"] == region and e["visible_at"] <= at]


TRAIL = Trail()


# -- recording ----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _templates() -> dict[str, tuple[str, re.Pattern, dict[str, str]]]:
    """operation → (HTTP method, path regex with named groups, {querystring name: member})."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    out = {}
    for name in model.operation_names:
        op = model.operation_model(name)
        path = op.http.get("requestUri", "/").partition("?")[0]
        members = op.input_shape.members if op.input_shape else {}
        uri = {s.serialization.get("name"): k for k, s in members.items() if s.serialization.get("location") == "uri"}
        query = {s.serialization.get("name"): k for k, s in members.items()
                 if s.serialization.get("location") == "querystring"}
        pattern = re.escape(path.rstrip("/"))
        for loc, member in uri.items():
            pattern = re.sub(r"\\\{" + re.escape(loc) + r"(?:\\\+)?\\\}", f"(?P<{member}>[^/]+)", pattern)
        out[name] = (op.http.get("method", "POST"), re.compile("^" + pattern + "/?$"), query)
    return out


def _camel(value: Any) -> Any:
    """CloudTrail spells request and response members in camelCase; versions stay as keys."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k[:1].lower() + k[1:] if isinstance(k, str) and k[:1].isupper() else k
            out[key] = "***" if key in _REDACTED else _camel(v)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _identity(access_key: str | None, account: str, user_agent: str) -> dict[str, Any]:
    """The caller as CloudTrail's userIdentity: an assumed role (moto's STS knows the key) or
    the account's default user."""
    role = None
    if access_key:
        try:
            from moto.sts.models import sts_backends

            for _acct, parts in list(sts_backends.items()):
                for backend in list(parts.values()):
                    role = backend.get_assumed_role_from_access_key(access_key)
                    if role:
                        break
                if role:
                    break
        except Exception:  # noqa: BLE001 - an unknown key is the default user
            role = None
    if role is not None:
        role_name = role.role_arn.split("/")[-1]
        ident = {
            "type": "AssumedRole",
            "principalId": f"{role.user_id}",
            "arn": role.arn,
            "accountId": role.account_id,
            "accessKeyId": access_key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role.user_id.split(":")[0], "arn": role.role_arn,
                                  "accountId": role.account_id, "userName": role_name},
                "attributes": {"creationDate": _iso(time.time()), "mfaAuthenticated": "false"},
            },
        }
    else:
        ident = {"type": "IAMUser", "principalId": "AIDAMOTO", "arn": f"arn:aws:iam::{account}:user/moto",
                 "accountId": account, "accessKeyId": access_key or "", "userName": "moto"}
    for service in ("codedeploy.amazonaws.com", "cloudformation.amazonaws.com"):
        if service in user_agent:
            ident["invokedBy"] = service
    return ident


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_name(operation: str, path: str) -> str:
    """``UpdateAlias`` on ``/2015-03-31/…`` → ``UpdateAlias20150331`` (v2 for code/config)."""
    m = re.match(r"^/(\d{4})-(\d{2})-(\d{2})/", path)
    suffix = "".join(m.groups()) if m else ""
    return f"{operation}{suffix}{'v2' if operation in _V2 and suffix else ''}"


def record(*, operation: str, environ: dict[str, Any], body: bytes, status: int, response: bytes,
           account: str, region: str, access_key: str | None) -> None:
    """Record one Lambda call as a management event, if it is one (a write, not an invoke)."""
    templates = _templates()
    if operation not in templates or operation in _NOT_RECORDED:
        return
    method, rx, query_members = templates[operation]
    if method == "GET" or method == "HEAD":
        return
    path = environ.get("PATH_INFO", "")
    m = rx.match(path.rstrip("/") or "/")
    params: dict[str, Any] = {k: unquote(v) for k, v in (m.groupdict() if m else {}).items()}
    for qname, values in parse_qs(environ.get("QUERY_STRING", "")).items():
        if qname in query_members:
            params[query_members[qname]] = values[-1]
    try:
        payload = json.loads(body) if body else {}
        if isinstance(payload, dict):
            params.update(payload)
    except ValueError:
        pass
    try:
        answer = json.loads(response) if response else None
    except ValueError:
        answer = None
    now = time.time()
    user_agent = environ.get("HTTP_USER_AGENT", "")
    eid = str(uuid.uuid4())
    name = event_name(operation, path)
    function = str(params.get("FunctionName") or params.get("Resource") or "")
    short = function.split(":")[6] if function.startswith("arn:") and function.count(":") >= 6 else function
    event: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": _identity(access_key, account, user_agent),
        "eventTime": _iso(now),
        "eventSource": "lambda.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": environ.get("REMOTE_ADDR", "127.0.0.1"),
        "userAgent": user_agent,
        "requestParameters": _camel(params) or None,
        "responseElements": _camel(answer) if status < 400 and isinstance(answer, dict) else None,
        "requestID": str(uuid.uuid4()),
        "eventID": eid,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "_epoch": now,
        "_resources": [{"ResourceType": "AWS::Lambda::Function", "ResourceName": short}] if short else [],
    }
    if status >= 400:
        err = (answer or {}) if isinstance(answer, dict) else {}
        event["errorCode"] = environ.get("sandbox.error_type") or err.get("Type") or str(status)
        event["errorMessage"] = str(err.get("message") or err.get("Message") or "")[:500]
    TRAIL.add(account, region, event, now)


# -- LookupEvents ---------------------------------------------------------------------------------
def _epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    ident = event["userIdentity"]
    if key == "EventId":
        return event["eventID"] == value
    if key == "EventName":
        return event["eventName"] == value
    if key == "ReadOnly":
        return str(event["readOnly"]).lower() == value.lower()
    if key == "Username":
        return _username(ident) == value
    if key == "EventSource":
        return event["eventSource"] == value
    if key == "AccessKeyId":
        return ident.get("accessKeyId") == value
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in event["_resources"])
    if key == "ResourceName":
        return any(r["ResourceName"] == value for r in event["_resources"])
    raise LookupError(f"Invalid AttributeKey: {key}")


def _username(ident: dict[str, Any]) -> str:
    if ident.get("type") == "AssumedRole":
        return ident["arn"].split("/")[-1]
    return ident.get("userName", "")


def _public(event: dict[str, Any]) -> dict[str, Any]:
    full = {k: v for k, v in event.items() if not k.startswith("_")}
    return {
        "EventId": event["eventID"],
        "EventName": event["eventName"],
        "ReadOnly": "false",
        "AccessKeyId": event["userIdentity"].get("accessKeyId", ""),
        "EventTime": event["_epoch"],
        "EventSource": event["eventSource"],
        "Username": _username(event["userIdentity"]),
        "Resources": list(event["_resources"]),
        "CloudTrailEvent": json.dumps(full),
    }


def lookup(account: str, region: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Answer LookupEvents: (HTTP status, body); errors carry ``__type`` as AWS's JSON protocol does."""
    try:
        token = request.get("NextToken")
        if token:
            state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            offset, at = int(state["o"]), float(state["t"])
        else:
            offset, at = 0, time.time()
        max_results = int(request.get("MaxResults") or PAGE_SIZE)
        start, end = _epoch(request.get("StartTime")), _epoch(request.get("EndTime"))
    except (ValueError, KeyError, TypeError):
        return 400, {"__type": "InvalidNextTokenException" if request.get("NextToken") else "InvalidParameterException",
                     "message": "Invalid request"}
    if not 1 <= max_results <= PAGE_SIZE:
        return 400, {"__type": "InvalidMaxResultsException", "message": "MaxResults must be between 1 and 50"}
    if start is not None and end is not None and start > end:
        return 400, {"__type": "InvalidTimeRangeException", "message": "StartTime must be before EndTime"}
    attrs = request.get("LookupAttributes") or []
    if len(attrs) > 1:
        return 400, {"__type": "InvalidLookupAttributesException", "message": "Only one lookup attribute is allowed"}
    # Frozen at the first page, so later deliveries do not shift the pages being walked.
    events = TRAIL.visible(account, region, at)
    try:
        chosen = [e for e in events
                  if (start is None or e["_epoch"] >= start) and (end is None or e["_epoch"] <= end)
                  and all(_matches(e, a["AttributeKey"], str(a["AttributeValue"])) for a in attrs)]
    except LookupError as exc:
        return 400, {"__type": "InvalidLookupAttributesException", "message": str(exc)}
    chosen.sort(key=lambda e: e["_epoch"], reverse=True)  # newest first, as AWS answers
    page = chosen[offset:offset + max_results]
    out: dict[str, Any] = {"Events": [_public(e) for e in page]}
    if offset + max_results < len(chosen):
        out["NextToken"] = base64.urlsafe_b64encode(json.dumps({"o": offset + max_results, "t": at}).encode()).decode()
    return 200, out
