"""One client factory: explicit timeouts, standard retries, one session per account×region.

boto3's defaults are a 60 s read timeout and the "legacy" retry mode; a poller that hangs for a
minute on one region delays every other scope, so both are set here. ``AWS_ENDPOINT_URL`` is
honoured by boto3 itself, which is how the sandbox is reached without any special case.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import boto3
from botocore.config import Config
from django.conf import settings

from ops.aws import outcomes, usage
from ops.aws.errors import classify


@dataclass(frozen=True)
class Scope:
    """Where calls go: an account (optionally through a role) and a region."""

    account_id: str
    region: str
    role_arn: str = ""
    external_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.account_id}/{self.region}"


def _config() -> Config:
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        # boto3 ≥ 1.43 gzips PutMetricData; some endpoints (and proxies) reject it. The product
        # only reads metrics, so compression buys nothing.
        disable_request_compression=True,
        user_agent_extra="lambda-ops",
    )


_lock = threading.Lock()
_sessions: dict[tuple[str, str, str], tuple[boto3.session.Session, float]] = {}
# Assumed-role credentials last an hour; renew well before they expire.
_SESSION_TTL_S = 45 * 60


def _session(scope: Scope) -> boto3.session.Session:
    key = (scope.account_id, scope.role_arn, scope.external_id)
    now = time.monotonic()
    with _lock:
        cached = _sessions.get(key)
        if cached and now - cached[1] < _SESSION_TTL_S:
            return cached[0]
    if scope.role_arn:
        session = _assume_role(scope)
    else:
        session = boto3.session.Session()
    with _lock:
        _sessions[key] = (session, now)
    return session


def _assume_role(scope: Scope) -> boto3.session.Session:
    base = boto3.session.Session()
    sts = base.client("sts", region_name=scope.region, config=_config())
    _count(sts, scope)
    params = {"RoleArn": scope.role_arn, "RoleSessionName": "lambda-ops", "DurationSeconds": 3600}
    if scope.external_id:
        params["ExternalId"] = scope.external_id
    try:
        creds = sts.assume_role(**params)["Credentials"]
    except Exception as exc:  # noqa: BLE001 - classified into AwsError below
        raise classify(exc, service="sts", operation="AssumeRole") from exc
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def client(service: str, scope: Scope):
    """A boto3 client for ``service`` in ``scope``, counted by ops.aws.usage."""
    return client_in(_session(scope), service, scope)


def session_fresh(scope: Scope) -> boto3.session.Session:
    """A session made now, bypassing the cache: a permission check must see what AWS answers
    today for this role and external id, not credentials assumed before the trust changed."""
    return _assume_role(scope) if scope.role_arn else boto3.session.Session()


def client_in(session: boto3.session.Session, service: str, scope: Scope):
    """A client from ``session`` (``client`` uses the cached one), counted like any other."""
    c = session.client(service, region_name=scope.region, config=_config())
    _count(c, scope)
    return c


_clients: dict[tuple[str, Scope], tuple[object, boto3.session.Session]] = {}


def cached_client(service: str, scope: Scope):
    """Like ``client``, but one client per service×scope is kept while its session is: for loops
    that make hundreds of calls (a redrive), where building a client per call (tens of ms each)
    would cost more than the calls. boto3 clients are safe to share between threads."""
    session = _session(scope)
    with _lock:
        kept = _clients.get((service, scope))
        if kept is not None and kept[1] is session:
            return kept[0]
    c = session.client(service, region_name=scope.region, config=_config())
    _count(c, scope)
    with _lock:
        _clients[(service, scope)] = (c, session)
    return c


def _count(c, scope: Scope) -> None:
    c.meta.events.register("before-parameter-build", usage.units_hook)
    # First, and as specific as any other before-call handler: a handler that answers the call
    # itself (botocore's Stubber, a fake responder) must not hide it from the count.
    c.meta.events.register_first("before-call.*.*", usage.before_call_hook(scope.account_id, scope.region))
    # Each call's outcome, for the status of the poll run it belongs to (ops.aws.outcomes).
    c.meta.events.register("after-call.*.*", outcomes.after_call_hook)
    c.meta.events.register("after-call-error.*.*", outcomes.after_call_error_hook)


def forget_sessions() -> None:
    """Drop cached sessions (tests, and after an account's role changes)."""
    with _lock:
        _sessions.clear()
        _clients.clear()


def call(c, operation: str, **params):
    """Call ``operation`` and turn any failure into an AwsError (transient or permanent)."""
    service = c.meta.service_model.service_name
    try:
        return getattr(c, _snake(operation))(**params)
    except Exception as exc:  # noqa: BLE001
        raise classify(exc, service=service, operation=operation) from exc


def paginate(c, operation: str, result_key: str, **params):
    """Yield every item of a paginated list call; failures become AwsError."""
    service = c.meta.service_model.service_name
    try:
        for page in c.get_paginator(_snake(operation)).paginate(**params):
            yield from page.get(result_key, [])
    except Exception as exc:  # noqa: BLE001
        raise classify(exc, service=service, operation=operation) from exc


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i and not operation[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
