"""Work out service, operation, account and region of an incoming AWS request (WSGI environ)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_TARGET_PREFIX = {"AmazonSQS": "sqs", "Logs_20140328": "logs", "GraniteServiceVersion20100801": "cloudwatch"}
_SIGNING = {"monitoring": "cloudwatch", "lambda": "lambda", "xray": "xray", "sts": "sts", "sqs": "sqs",
            "logs": "logs", "iam": "iam", "cloudtrail": "cloudtrail"}


@lru_cache(maxsize=None)
def _rest_routes(service: str) -> list[tuple[str, re.Pattern, int, str]]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        # re.escape turns "{FunctionName}" into \{FunctionName\} (and "{Name+}" into \{Name\+\})
        pattern = "^" + re.sub(r"\\\{[^}]+?(?:\\\+)?\\\}", "[^/]+", re.escape(path.rstrip("/"))) + "/?$"
        routes.append((http.get("method", "POST"), re.compile(pattern), literal + len(query), name))
    routes.sort(key=lambda r: -r[2])
    return routes


def rest_operation(service: str, method: str, path: str) -> str:
    for m, rx, _lit, name in _rest_routes(service):
        if m == method and rx.match(path):
            return name
    return "*"


def account_for_access_key(access_key: str | None) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    if not access_key:
        return DEFAULT_ACCOUNT_ID
    try:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key)
    except Exception:
        return DEFAULT_ACCOUNT_ID


def classify(environ: dict[str, Any], body: bytes) -> tuple[str, str, str, str]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _SCOPE.search(auth)
    access_key, region, signing = (m.group(1), m.group(2), m.group(3)) if m else (None, "us-east-1", "")
    service = _SIGNING.get(signing, signing)
    path = environ.get("PATH_INFO", "")
    operation = "*"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("com.amazonaws.cloudtrail."):
        service, operation = "cloudtrail", target.rpartition(".")[2]
    elif target and "." in target:
        prefix, _, operation = target.partition(".")
        service = _TARGET_PREFIX.get(prefix, service)
    elif "/operation/" in path:
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[0] == "service":
            service = _TARGET_PREFIX.get(parts[1], service)
            operation = parts[3]
    elif service in ("lambda", "xray"):
        operation = rest_operation(service, environ.get("REQUEST_METHOD", "GET"), path)
    elif service in ("sts", "iam", "sqs", "cloudwatch"):
        q = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" not in q and body and b"Action=" in body:
            q = parse_qs(body.decode("utf-8", "replace"))
        operation = (q.get("Action") or ["*"])[0]
    return service, operation, account_for_access_key(access_key), region
