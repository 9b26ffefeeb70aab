"""STS AssumeRole that honours the role's trust policy's external id, as AWS does.

moto assumes any role with any (or no) external id. Here the role's own trust policy, created
through IAM CreateRole like any role, decides: when a statement allowing sts:AssumeRole carries
``"Condition": {"StringEquals": {"sts:ExternalId": …}}``, a call with another external id or none
is refused with AWS's AccessDenied, and so is a role whose trust policy allows no AssumeRole at
all. A role that does not exist keeps moto's permissive answer (AWS refuses it): the seed assumes
its role in a fresh account before it creates it, and the scenarios act as roles such as
deploy-bot that are never created.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote


def _roles(account: str) -> list[Any]:
    from moto.iam.models import iam_backends

    if account not in iam_backends:
        return []
    backends = iam_backends[account]
    backend = backends.get("aws") if hasattr(backends, "get") else None
    return list(backend.roles.values()) if backend is not None else []


def _external_ids(document: str) -> tuple[bool, set[str]]:
    """(has any allowing statement, the external ids it requires; empty = none required)."""
    try:
        doc = json.loads(unquote(document)) if isinstance(document, str) else document
    except ValueError:
        return False, set()
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    allowed, ids, unconditional = False, set(), False
    for st in statements:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") != "Allow" or not ({"sts:AssumeRole", "sts:*", "*"} & set(actions)):
            continue
        allowed = True
        want = ((st.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId")
        if want is None:
            unconditional = True
        else:
            ids.update([want] if isinstance(want, str) else want)
    return allowed, set() if unconditional else ids


def refusal(body: bytes, caller_account: str) -> str | None:
    """AWS's AccessDenied message for an AssumeRole this role's trust refuses, or None."""
    q = parse_qs(body.decode("utf-8", "replace"))
    role_arn = (q.get("RoleArn") or [""])[0]
    external_id = (q.get("ExternalId") or [None])[0]
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam":
        return None  # moto answers a malformed ARN itself (ValidationError)
    roles = _roles(parts[4])
    denied = (f"User: arn:aws:iam::{caller_account}:user/lambda-ops is not authorized to perform: sts:AssumeRole "
              f"on resource: {role_arn}")
    role = next((r for r in roles if r.arn == role_arn), None)
    if role is None:
        return None
    allowed, ids = _external_ids(role.assume_role_policy_document)
    if not allowed or (ids and external_id not in ids):
        return denied
    return None
