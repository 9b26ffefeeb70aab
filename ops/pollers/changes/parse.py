"""A CloudTrail Lambda event → what changed, by whom, with what tool (pure, no I/O).

Lambda's event names carry the API version (``UpdateAlias20150331``,
``UpdateFunctionConfiguration20150331v2``): matched without it. The actor comes from
``userIdentity`` (an assumed role's issuer, an IAM user, a service), the tool from
``userAgent``. A record that cannot be read raises MalformedEvent; the poller records it and
goes on with the others.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ops.aws.cloudtrail import LAMBDA_SOURCE, TrailEvent
from ops.models.choices import ChangeKind

_SUFFIX = re.compile(r"^(?P<base>[A-Za-z]+?)(?:\d{8}(?:v\d+)?)?$")

KINDS = {
    "CreateAlias": ChangeKind.ALIAS,
    "UpdateAlias": ChangeKind.ALIAS,
    "DeleteAlias": ChangeKind.ALIAS,
    "PublishVersion": ChangeKind.VERSION,
    "UpdateFunctionCode": ChangeKind.CODE,
    "UpdateFunctionConfiguration": ChangeKind.CONFIG,
    "PutFunctionConcurrency": ChangeKind.CONCURRENCY,
    "DeleteFunctionConcurrency": ChangeKind.CONCURRENCY,
    "PutProvisionedConcurrencyConfig": ChangeKind.PROVISIONED,
    "DeleteProvisionedConcurrencyConfig": ChangeKind.PROVISIONED,
    "PutFunctionEventInvokeConfig": ChangeKind.ASYNC,
    "UpdateFunctionEventInvokeConfig": ChangeKind.ASYNC,
    "DeleteFunctionEventInvokeConfig": ChangeKind.ASYNC,
    "CreateFunction": ChangeKind.FUNCTION,
    "DeleteFunction": ChangeKind.FUNCTION,
}
# Events that change nothing the product shows (permissions, tags are re-read hourly anyway).
IGNORED = {"AddPermission", "RemovePermission", "TagResource", "UntagResource", "Invoke"}

# userAgent substring → the tool, most specific first.
TOOLS = (
    ("codedeploy", "CodeDeploy"),
    ("cloudformation", "CloudFormation"),
    ("aws-sam-cli", "SAM"),
    ("terraform", "Terraform"),
    ("pulumi", "Pulumi"),
    ("serverless", "Serverless"),
    ("aws-cdk", "CDK"),
    ("lambda-ops", "Lambda Ops"),
    ("console.amazonaws.com", "console"),
    ("signin.amazonaws.com", "console"),
    ("aws internal", "console"),
    ("aws-cli", "aws-cli"),
    ("boto3", "boto3"),
    ("aws-sdk", "AWS SDK"),
)

# Configuration members the page shows, as CloudTrail spells them → our names.
CONFIG_FIELDS = {"memorySize": "memory_mb", "timeout": "timeout_s", "ephemeralStorage": "ephemeral_storage_mb"}


class MalformedEvent(ValueError):
    """The event cannot be read; the message says which part."""


@dataclass(frozen=True)
class ParsedChange:
    event_id: str
    at: datetime
    event_name: str
    kind: str
    function_name: str
    qualifier: str
    actor_arn: str
    actor: str
    tool: str
    user_agent: str
    after: dict = field(default_factory=dict)
    alias: str = ""
    to_version: str = ""
    to_weights: dict = field(default_factory=dict)


def base_name(event_name: str) -> str:
    m = _SUFFIX.match(event_name or "")
    return m.group("base") if m else event_name


def tool_of(user_agent: str) -> str:
    ua = (user_agent or "").lower()
    return next((tool for needle, tool in TOOLS if needle in ua), "")


def _obj(value) -> dict:
    """A nested member that should be an object; anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    """A member that should be a string; anything else counts as absent."""
    return value if isinstance(value, str) else ""


def actor_of(identity: dict) -> tuple[str, str]:
    """(principal ARN, short name): role/deploy-bot, user/alice, root, or the calling service.
    A member of the wrong type (a list where an object belongs) is treated as absent."""
    if not isinstance(identity, dict):
        return "", ""
    arn = _text(identity.get("arn"))
    kind = identity.get("type")
    issuer = _obj(_obj(identity.get("sessionContext")).get("sessionIssuer")) if kind == "AssumedRole" else {}
    if _text(issuer.get("userName")):
        name = f"role/{issuer['userName']}"
    elif kind == "IAMUser" and _text(identity.get("userName")):
        name = f"user/{identity['userName']}"
    elif kind == "Root":
        name = "root"
    elif kind == "AWSService":
        name = _text(identity.get("invokedBy"))
    else:
        name = arn.rsplit(":", 1)[-1] if arn else _text(identity.get("invokedBy"))
    return arn, name


def _function_name(value: str) -> tuple[str, str]:
    """A FunctionName parameter (name, name:qualifier, or a full or partial ARN) → (name, qualifier)."""
    parts = value.split(":")
    if value.startswith("arn:"):
        return (parts[6] if len(parts) > 6 else ""), (parts[7] if len(parts) > 7 else "")
    if len(parts) == 3 and parts[1] == "function":  # 123456789012:function:name
        return parts[2], ""
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _time(value, fallback: datetime | None) -> datetime:
    if isinstance(value, str) and value:
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
        except ValueError:
            raise MalformedEvent(f"eventTime {value!r} is not a time") from None
    if fallback is not None:
        return fallback
    raise MalformedEvent("no eventTime")


def _weights(obj: dict) -> dict[str, float]:
    routing = obj.get("routingConfig") or {}
    raw = routing.get("additionalVersionWeights") if isinstance(routing, dict) else None
    try:
        return {str(k): float(v) for k, v in (raw or {}).items()}
    except (TypeError, ValueError, AttributeError):
        raise MalformedEvent(f"routingConfig weights {raw!r} are not numbers") from None


def _after(kind: str, name: str, req: dict, resp: dict) -> dict:
    if kind == ChangeKind.CONFIG:
        out = {}
        for key, ours in CONFIG_FIELDS.items():
            if key in req:
                value = req[key]
                out[ours] = value.get("size") if isinstance(value, dict) else value
        return out
    if kind == ChangeKind.CONCURRENCY:
        return {"reserved_concurrency": req.get("reservedConcurrentExecutions") if name.startswith("Put") else None}
    if kind == ChangeKind.PROVISIONED:
        value = req.get("provisionedConcurrentExecutions") if name.startswith("Put") else None
        return {"provisioned_concurrency": value}
    if kind == ChangeKind.ASYNC:
        keys = {"maximumRetryAttempts": "async_max_retries", "maximumEventAgeInSeconds": "async_max_event_age_s"}
        return {ours: req[key] for key, ours in keys.items() if key in req}
    if kind == ChangeKind.VERSION:
        return {"version": str(resp.get("version") or "")}
    return {}


def change_of(event: TrailEvent) -> ParsedChange | None:
    """The change an event describes; None for events that change nothing we show (reads,
    permissions, failed calls); MalformedEvent when the record cannot be read."""
    try:
        record = json.loads(event.detail)
    except (TypeError, ValueError):
        raise MalformedEvent("CloudTrailEvent is not JSON") from None
    if not isinstance(record, dict):
        raise MalformedEvent("CloudTrailEvent is not an object")
    if record.get("eventSource", LAMBDA_SOURCE) != LAMBDA_SOURCE:
        return None
    event_id = str(record.get("eventID") or event.event_id or "")
    if not event_id:
        raise MalformedEvent("no eventID")
    name = base_name(str(record.get("eventName") or event.event_name or ""))
    if not name:
        raise MalformedEvent("no eventName")
    if record.get("errorCode") or name in IGNORED or record.get("readOnly") is True:
        return None  # a failed call changed nothing
    req = record.get("requestParameters") or {}
    resp = record.get("responseElements") or {}
    if not isinstance(req, dict) or not isinstance(resp, dict):
        raise MalformedEvent("requestParameters/responseElements are not objects")
    raw_fn = req.get("functionName") or resp.get("functionName") or (event.resources[0] if event.resources else "")
    if not raw_fn or not isinstance(raw_fn, str):
        raise MalformedEvent(f"{name} names no function")
    function, qualifier = _function_name(raw_fn)
    if not function:
        raise MalformedEvent(f"{name}: function {raw_fn!r} is not a name or ARN")
    kind = KINDS.get(name, ChangeKind.OTHER)
    arn, actor = actor_of(record.get("userIdentity") or {})
    user_agent = str(record.get("userAgent") or "")[:256]
    qualifier = str(req.get("qualifier") or qualifier or "")
    out = dict(
        event_id=event_id[:64],
        at=_time(record.get("eventTime"), event.event_time),
        event_name=name[:64],
        kind=kind,
        function_name=function[:140],
        qualifier=qualifier[:128],
        actor_arn=arn[:512],
        actor=actor[:256],
        tool=tool_of(user_agent),
        user_agent=user_agent,
        after=_after(kind, name, req, resp),
    )
    if kind == ChangeKind.ALIAS:
        alias = str(req.get("name") or resp.get("name") or "")
        if not alias:
            raise MalformedEvent(f"{name} names no alias")
        version = "" if name == "DeleteAlias" else str(resp.get("functionVersion") or req.get("functionVersion") or "")
        if name != "DeleteAlias" and not version:
            raise MalformedEvent(f"{name} {alias}: no function version")
        weights = _weights(resp) if resp.get("routingConfig") is not None else _weights(req)
        out.update(alias=alias[:128], qualifier=alias[:128], to_version=version[:16], to_weights=weights,
                   after={"version": version, "weights": weights})
    return ParsedChange(**out)
