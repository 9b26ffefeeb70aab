"""Named scenarios: the AWS-side changes they need (made through the AWS APIs) plus the server's
scenario state. ``POST /_sandbox/scenario {"name": ..., "function": ...}`` runs :func:`apply` inside
the server; :func:`activate` is the client side of that call."""

from __future__ import annotations

from typing import Any

from .estate import Estate, FunctionSpec, default_endpoint, session_for

# Who makes each scenario's changes, as CloudTrail will name them: (role, session, user agent).
CI_BUILD = ("deploy-bot", "ci-build-1042", "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64 command/lambda")
CODEDEPLOY = ("CodeDeployServiceRole", "AWSCodeDeploy", "codedeploy.amazonaws.com")
CONSOLE = ("oncall-admin", "alice", "console.amazonaws.com")
from .state import SCENARIOS
from .traffic import default_target


def _find(estate: Estate, name: str | None, account: str | None, region: str | None, scenario: str) -> FunctionSpec | None:
    if not name:
        return default_target(estate, scenario)
    for f in estate.functions:
        if f.name == name and (not account or f.account == account) and (not region or f.region == region):
            return f
    raise ValueError(f"no function {name!r} in the estate")


def activate(endpoint: str | None, name: str, *, function: str | None = None, account: str | None = None,
             region: str | None = None) -> dict[str, Any]:
    """Ask a running sandbox (any process) to switch to scenario ``name``."""
    from .runner import _post

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    endpoint = (endpoint or default_endpoint()).rstrip("/")
    body = {k: v for k, v in {"name": name, "function": function, "account": account, "region": region}.items() if v}
    return _post(endpoint, "/_sandbox/scenario", body)


def apply(endpoint: str, name: str, *, function: str | None = None, account: str | None = None,
          region: str | None = None) -> dict[str, Any]:
    """Server side: make the scenario's AWS changes through the APIs, then switch the state."""
    from . import state

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if not state.ESTATE:
        raise ValueError("no estate registered with the sandbox: run `python -m sandbox seed` first")
    estate = Estate.from_json(state.ESTATE)
    _undo(endpoint, state.scenario_json())
    details: dict[str, Any] = {}
    # deploy-regression and throttling change one function in AWS, so they always resolve a target;
    # the others without --function use the generator's default (cold-start-storm: every function)
    needs_target = name in ("deploy-regression", "throttling") or (function and name != "steady")
    target = _find(estate, function, account, region, name) if needs_target else None
    if target is not None:
        details.update(account=target.account, region=target.region)
        lam = session_for(endpoint, target.account, target.region).client("lambda", endpoint_url=endpoint)
        if name == "deploy-regression" and target.traffic_alias:
            alias = lam.get_alias(FunctionName=target.name, Name=target.traffic_alias)
            conf = lam.get_function_configuration(FunctionName=target.name)
            env = dict((conf.get("Environment") or {}).get("Variables") or {})
            env["BUILD"] = f"{env.get('BUILD', '1')}-regression"
            ci = _acting(endpoint, target, *CI_BUILD)
            ci.update_function_configuration(FunctionName=target.name, Environment={"Variables": env})
            version = ci.publish_version(FunctionName=target.name, Description="regression build")["Version"]
            _acting(endpoint, target, *CODEDEPLOY).update_alias(
                FunctionName=target.name, Name=target.traffic_alias, FunctionVersion=version,
                RoutingConfig={"AdditionalVersionWeights": {}})
            details.update(version=version, previous_version=alias["FunctionVersion"], alias=target.traffic_alias)
        elif name == "throttling":
            current = lam.get_function_concurrency(FunctionName=target.name).get("ReservedConcurrentExecutions")
            details.update(reserved=1, previous_reserved=current)
            _acting(endpoint, target, *CONSOLE).put_function_concurrency(FunctionName=target.name,
                                                                         ReservedConcurrentExecutions=1)
    return state.set_scenario(name, target.name if target else None, **details)


def _acting(endpoint: str, target: FunctionSpec, role: str, session: str, user_agent: str):
    """A Lambda client acting as ``role`` (assumed in the target's account) with ``user_agent``:
    its calls go through the sandbox's CloudTrail recording like anyone's."""
    import boto3
    from botocore.config import Config

    base = session_for(endpoint, target.account, target.region)
    creds = base.client("sts", endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{target.account}:role/{role}", RoleSessionName=session)["Credentials"]
    return boto3.client("lambda", endpoint_url=endpoint, region_name=target.region,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"], config=Config(user_agent=user_agent))


def _undo(endpoint: str, previous: dict[str, Any]) -> None:
    """Undo what the previous scenario changed in AWS (a deploy stays: rolling back is the product's job)."""
    if previous.get("name") == "throttling" and previous.get("function"):
        lam = session_for(endpoint, previous["account"], previous["region"]).client("lambda", endpoint_url=endpoint)
        if previous.get("previous_reserved"):
            lam.put_function_concurrency(FunctionName=previous["function"],
                                         ReservedConcurrentExecutions=int(previous["previous_reserved"]))
        else:
            lam.delete_function_concurrency(FunctionName=previous["function"])
