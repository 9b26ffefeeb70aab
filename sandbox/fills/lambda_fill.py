"""Lambda fill-ins: DeadLetterConfig, event-invoke-config updates, small-page pagination,
provisioned concurrency configs and GetAccountSettings."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

PAGE_SIZE = int(os.environ.get("SANDBOX_LAMBDA_PAGE_SIZE", "5"))
ACCOUNT_CONCURRENCY_LIMIT = 1000


def _paginate(items: list, querystring: dict[str, list[str]], default_max: int = 50) -> tuple[list, str | None]:
    try:
        offset = int((querystring.get("Marker") or ["0"])[0] or 0)
    except ValueError:
        offset = 0
    try:
        max_items = int((querystring.get("MaxItems") or [str(default_max)])[0])
    except ValueError:
        max_items = default_max
    size = max(1, min(max_items, PAGE_SIZE))
    page = items[offset:offset + size]
    marker = str(offset + size) if offset + size < len(items) else None
    return page, marker


def install() -> None:
    from moto.awslambda import models as lm
    from moto.awslambda.responses import LambdaResponse

    fn_cls = lm.LambdaFunction
    orig_init = fn_cls.__init__
    orig_get_configuration = fn_cls.get_configuration
    orig_update_configuration = fn_cls.update_configuration

    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str, *a: Any, **kw: Any) -> None:
        orig_init(self, account_id, spec, region, *a, **kw)
        dlc = spec.get("DeadLetterConfig") or {}
        self.sandbox_dead_letter_arn = dlc.get("TargetArn") or None
        self.sandbox_logging = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}",
                                **(spec.get("LoggingConfig") or {})}

    def get_configuration(self: Any, *a: Any, **kw: Any) -> dict[str, Any]:
        cfg = orig_get_configuration(self, *a, **kw)
        arn = getattr(self, "sandbox_dead_letter_arn", None)
        if arn:
            cfg["DeadLetterConfig"] = {"TargetArn": arn}
        logging_cfg = getattr(self, "sandbox_logging", None)
        if logging_cfg:
            cfg["LoggingConfig"] = dict(logging_cfg)
        return cfg

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "DeadLetterConfig" in config_updates:
            self.sandbox_dead_letter_arn = (config_updates.get("DeadLetterConfig") or {}).get("TargetArn") or None
        if "LoggingConfig" in config_updates:
            self.sandbox_logging = {**getattr(self, "sandbox_logging", {}), **(config_updates["LoggingConfig"] or {})}
        if "TracingConfig" in config_updates:
            self.tracing_config = config_updates["TracingConfig"]
        if "Architectures" in config_updates:
            self.architectures = config_updates["Architectures"]
        return orig_update_configuration(self, config_updates)

    fn_cls.__init__ = __init__
    fn_cls.get_configuration = get_configuration
    fn_cls.update_configuration = update_configuration

    backend_cls = lm.LambdaBackend

    def put_function_event_invoke_config(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_function(function_name)
        ev = lm.EventInvokeConfig(fn.function_arn, datetime.now(timezone.utc).timestamp(), config)
        fn.event_invoke_config = [ev]
        return ev.response()

    def update_function_event_invoke_config(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_function(function_name)
        merged = dict(fn.event_invoke_config[0].config) if fn.event_invoke_config else {}
        merged.update(config)
        return put_function_event_invoke_config(self, function_name, merged)

    backend_cls.put_function_event_invoke_config = put_function_event_invoke_config
    backend_cls.update_function_event_invoke_config = update_function_event_invoke_config

    orig_list_functions = LambdaResponse.list_functions
    orig_list_versions = LambdaResponse.list_versions_by_function
    orig_list_aliases = LambdaResponse.list_aliases

    def _body(resp: Any) -> dict[str, Any]:
        return json.loads(resp[2] if isinstance(resp, tuple) else resp)

    def list_functions(self: Any) -> str:
        data = _body(orig_list_functions(self))
        page, marker = _paginate(data["Functions"], self.querystring)
        out: dict[str, Any] = {"Functions": page}
        if marker:
            out["NextMarker"] = marker
        return json.dumps(out)

    def list_versions_by_function(self: Any) -> str:
        data = _body(orig_list_versions(self))
        page, marker = _paginate(data["Versions"], self.querystring)
        out: dict[str, Any] = {"Versions": page}
        if marker:
            out["NextMarker"] = marker
        return json.dumps(out)

    def list_aliases(self: Any) -> Any:
        data = _body(orig_list_aliases(self))
        aliases = data["Aliases"]
        wanted = (self.querystring.get("FunctionVersion") or [None])[0]
        if wanted:
            aliases = [a for a in aliases if a["FunctionVersion"] == wanted]
        for a in aliases:
            if not a.get("RoutingConfig"):
                a.pop("RoutingConfig", None)
        page, marker = _paginate(aliases, self.querystring)
        out: dict[str, Any] = {"Aliases": page}
        if marker:
            out["NextMarker"] = marker
        return 200, {}, json.dumps(out)

    LambdaResponse.list_functions = list_functions
    LambdaResponse.list_versions_by_function = list_versions_by_function
    LambdaResponse.list_aliases = list_aliases


# -- routes moto has none for -----------------------------------------------------------------
_PC = re.compile(r"^/2019-09-30/functions/([^/]+)/provisioned-concurrency/?$")


def _backend(account: str, region: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account, region)


def _not_found(message: str, kind: str = "ResourceNotFoundException") -> tuple[int, dict[str, Any]]:
    return 404, {"message": message, "Type": "User", "Type_": kind}


def put_provisioned_concurrency(account: str, region: str, function: str, qualifier: str, requested: int) -> dict[str, Any]:
    fn = _backend(account, region).get_function(function)
    configs = fn.__dict__.setdefault("sandbox_provisioned", {})
    arn = f"{fn.function_arn}:{qualifier}"
    cfg = {
        "FunctionArn": arn,
        "RequestedProvisionedConcurrentExecutions": requested,
        "AvailableProvisionedConcurrentExecutions": requested,
        "AllocatedProvisionedConcurrentExecutions": requested,
        "Status": "READY",
        "LastModified": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    configs[qualifier] = cfg
    return cfg


def extra_route(environ: dict[str, Any], body: bytes, operation: str, account: str, region: str) -> tuple[int, Any] | None:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    q = parse_qs(environ.get("QUERY_STRING", ""))
    if path.rstrip("/") == "/2016-08-19/account-settings":
        backend = _backend(account, region)
        functions = list(backend.list_functions())
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        code = sum(int(getattr(f, "code_size", 0) or 0) for f in functions)
        return 200, {
            "AccountLimit": {
                "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": ACCOUNT_CONCURRENCY_LIMIT,
                "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY_LIMIT - reserved,
            },
            "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(functions)},
        }
    m = _PC.match(path)
    if not m:
        return None
    name = unquote(m.group(1))
    if name.startswith("arn:"):
        name = name.split(":")[6]
    try:
        fn = _backend(account, region).get_function(name)
    except Exception:
        return _not_found(f"Function not found: arn:aws:lambda:{region}:{account}:function:{name}")
    configs: dict[str, Any] = fn.__dict__.setdefault("sandbox_provisioned", {})
    qualifier = (q.get("Qualifier") or [None])[0]
    if method == "GET" and (q.get("List") or not qualifier):
        items = list(configs.values())
        page, marker = _paginate(items, q)
        out: dict[str, Any] = {"ProvisionedConcurrencyConfigs": page}
        if marker:
            out["NextMarker"] = marker
        return 200, out
    if method == "GET":
        cfg = configs.get(qualifier)
        if cfg is None:
            return _not_found("No Provisioned Concurrency Config found for this function",
                              "ProvisionedConcurrencyConfigNotFoundException")
        return 200, {k: v for k, v in cfg.items() if k != "FunctionArn"}
    if method == "PUT":
        req = json.loads(body or b"{}")
        cfg = put_provisioned_concurrency(account, region, name, qualifier,
                                          int(req["ProvisionedConcurrentExecutions"]))
        return 202, {k: v for k, v in cfg.items() if k != "FunctionArn"}
    if method == "DELETE":
        configs.pop(qualifier, None)
        return 204, None
    return None
