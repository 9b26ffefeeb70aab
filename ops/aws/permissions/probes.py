"""The permission check's AWS side: assume the role afresh, then one cheap call per IAM action.

Each call is the operation itself with harmless parameters (``Permission.probe``): a random
name no real function, queue or log group has, a one-minute window. AWS authorises a call before
it looks the resource up, so "no such function" means the action is granted and AccessDenied
means it is not; a write probe aims at a resource that does not exist, so it changes nothing.
A policy narrowed to some functions answers "denied" here (the probe's name is outside it);
the table says the check is for the resources the generated policy names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ops.aws.client import Scope, call, client_in, session_fresh
from ops.aws.errors import AwsError
from ops.aws.permissions.table import Permission

GRANTED = "granted"
DENIED = "denied"
NOT_CHECKED = "not_checked"

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "AuthorizationErrorException", "UnauthorizedException", "AWS.SimpleQueueService.AccessDenied",
})
# What AWS answers a call to a region the account has not enabled (opt-in regions): the
# role's credentials are not known there.
REGION_CODES = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "OptInRequired", "AuthFailure"})
# "Authorised, and the probe's resource does not exist" (or the probe's value is refused after
# authorisation): the action is granted.
NOT_FOUND_CODES = frozenset({
    "ResourceNotFoundException", "ResourceNotFound", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
    "NonExistentQueue", "ReceiptHandleIsInvalid", "InvalidParameterValueException",
    "InvalidParameterException", "ResourceNotFoundFault", "NotFoundException", "EntityNotFound",
})


@dataclass(frozen=True)
class ProbeResult:
    action: str
    state: str  # GRANTED | DENIED | NOT_CHECKED
    code: str = ""
    message: str = ""


class AssumeFailed(Exception):
    """The role could not be assumed (wrong external id, no trust, no such role)."""

    def __init__(self, err: AwsError) -> None:
        super().__init__(str(err))
        self.err = err


class RegionUnavailable(Exception):
    """The region answers as if the account had not enabled it."""

    def __init__(self, region: str, err: AwsError) -> None:
        super().__init__(f"{region} is not enabled for this account, or the role's credentials are not valid "
                         f"there ({err.code}: {err.message})")
        self.region, self.err = region, err


def _values(scope: Scope, now: datetime) -> dict[str, object]:
    probe = f"lambda-ops-probe-{uuid.uuid4().hex[:20]}"
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    end = start + timedelta(minutes=1)
    # The probe's ARNs are in the role's partition (aws-cn, aws-us-gov), else the commercial one.
    partition = scope.role_arn.split(":")[1] if scope.role_arn.startswith("arn:") else "aws"
    return {
        "probe": probe,
        "probe_arn": f"arn:{partition}:lambda:{scope.region}:{scope.account_id}:function:{probe}",
        "queue_arn": f"arn:{partition}:sqs:{scope.region}:{scope.account_id}:{probe}",
        # SQS takes a queue URL at its regional endpoint; only the queue name has to be unknown.
        "queue_url": f"https://sqs.{scope.region}.amazonaws.com/{scope.account_id}/{probe}",
        "uuid": str(uuid.uuid4()),
        "hex24": uuid.uuid4().hex[:24],
        "start": start,
        "end": end,
        "start_s": int(start.timestamp()),
        "end_s": int(end.timestamp()),
    }


def _fill(value, values: dict[str, object]):
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, str):
        whole = value[1:-1] if value.startswith("{") and value.endswith("}") else None
        if whole in values:
            return values[whole]  # typed: a datetime or an int stays one
        for k, v in values.items():
            value = value.replace("{" + k + "}", str(v))
    return value


def probe_params(permission: Permission, scope: Scope, *, now: datetime | None = None) -> dict:
    return _fill(permission.probe or {}, _values(scope, now or datetime.now(UTC)))


def _verdict(action: str, err: AwsError) -> ProbeResult:
    if err.code in DENIED_CODES:
        return ProbeResult(action, DENIED, err.code, err.message)
    if err.transient:
        return ProbeResult(action, NOT_CHECKED, err.code, f"AWS did not answer this time: {err.message}")
    if err.code in NOT_FOUND_CODES:
        return ProbeResult(action, GRANTED, err.code, "")
    return ProbeResult(action, NOT_CHECKED, err.code, err.message)


def scope_probe(scope: Scope, permissions: list[Permission], *, session=None) -> list[ProbeResult]:
    """One result per permission for ``scope``. Raises AssumeFailed when the role cannot be
    assumed and RegionUnavailable when the region refuses the role's credentials.

    1. assume the role afresh (never a cached session) — unless ``session`` is given, made by
       ``session_open`` for the same account in another region;
    2. ask ``lambda:ListFunctions`` first: a region the account has not enabled refuses every
       call the same way, which is one problem, not forty denied rows;
    3. call each permission's probe once and judge the answer (granted, denied, not checked).
    """
    session = session or session_open(scope)
    clients: dict[str, object] = {}
    results: list[ProbeResult] = []
    ordered = sorted(permissions, key=lambda p: p.key != "lambda:ListFunctions")
    for n, p in enumerate(ordered):
        if p.probe is None:
            results.append(ProbeResult(p.action, NOT_CHECKED, "", "no cheap call checks this action"))
            continue
        c = clients.get(p.service) or clients.setdefault(p.service, client_in(session, p.service, scope))
        try:
            call(c, p.operation, **probe_params(p, scope))
        except AwsError as err:
            if n == 0 and err.code in REGION_CODES:
                raise RegionUnavailable(scope.region, err) from err
            results.append(_verdict(p.action, err))
            continue
        results.append(ProbeResult(p.action, GRANTED))
    return results


def session_open(scope: Scope):
    """A fresh session for the scope's account (AssumeRole now); AssumeFailed when refused."""
    try:
        return session_fresh(scope)
    except AwsError as err:
        raise AssumeFailed(err) from err
