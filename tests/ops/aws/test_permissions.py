"""The permission table against the code: every AWS call ops/aws makes has a row (so a policy
names it), and every row is a call the code makes (or is marked as coming with another branch).

The calls are found by reading ops/aws's source: each ``call(c, "Operation", …)``,
``paginate(c, "Operation", …)`` or ``_optional(c, "Operation", …)`` and each direct boto3 method
(``sts.assume_role``), attributed to the services the module makes clients for.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import botocore.session
import pytest
from django.core.management import CommandError, call_command

from ops.aws.permissions import BY_KEY, OPERATOR, PERMISSIONS, READ_ONLY, actions_of
from ops.aws.permissions.policy import policy_json, template_json

AWS_DIR = Path(__file__).resolve().parents[3] / "ops" / "aws"
CALL_HELPERS = {"call", "paginate", "_optional"}
TABLE = "ops/aws/permissions/table.py"
_botocore = botocore.session.get_session()


def _model(service: str):
    return _botocore.get_service_model(service)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _calls_in(path: Path) -> list[tuple[str, str, int]]:
    """(service, operation, line) for every AWS call in one module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    services: set[str] = set()
    found: list[tuple[str, int, bool]] = []
    methods: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if name in ("client", "client_in", "cached_client") and strings:
            services.add(strings[0])
        elif len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            # call(c, "Op", …), paginate(c, "Op", …) and any helper shaped like them
            found.append((node.args[1].value, node.lineno, name in CALL_HELPERS))
        elif isinstance(node.func, ast.Attribute) and "_" in name:
            methods.append((name, node.lineno))
    out = []
    for op, line, helper in found:
        owners = [s for s in services if op in _model(s).operation_names]
        if not helper and not owners:
            continue  # some other two-argument call with a string, not an AWS operation
        assert len(owners) == 1, (f"{path.name}:{line} calls {op!r}, which is an operation of "
                                  f"{owners or 'none'} of the module's clients {sorted(services)}")
        out.append((owners[0], op, line))
    for method, line in methods:
        for s in services:
            for op in _model(s).operation_names:
                if _snake(op) == method:
                    out.append((s, op, line))
    return out


def code_calls() -> dict[str, str]:
    """{"service:Operation": "file:line"} for every call ops/aws makes (the permission check's
    own probes, in ops/aws/permissions, are the checks of this table, not callers of it)."""
    out: dict[str, str] = {}
    for path in sorted(AWS_DIR.rglob("*.py")):
        rel = path.relative_to(AWS_DIR)
        if rel.parts[0] == "permissions":
            continue
        for service, op, line in _calls_in(path):
            out.setdefault(f"{service}:{op}", f"ops/aws/{rel.as_posix()}:{line}")
    return out


def test_the_scanner_sees_the_calls_it_must():
    calls = code_calls()
    for key in ("lambda:ListFunctions", "sqs:GetQueueAttributes", "cloudwatch:GetMetricData", "logs:StartQuery",
                "cloudtrail:LookupEvents", "sts:AssumeRole", "lambda:GetFunctionConcurrency"):
        assert key in calls, key


def test_every_call_ops_aws_makes_is_in_a_policy():
    missing = {k: where for k, where in code_calls().items() if k not in BY_KEY}
    assert not missing, "\n".join(
        f"{where} calls {key}, which no policy names: add one row for it to PERMISSIONS in {TABLE} "
        f"(its IAM action, READ_ONLY or OPERATOR, the resource it can be scoped to, the feature, what the "
        f"product does without it, and a probe), then regenerate deploy/iam (see README, Permissions and IAM)"
        for key, where in sorted(missing.items()))


def test_a_new_call_without_a_row_is_named_with_where_to_add_it(tmp_path, monkeypatch):
    (tmp_path / "dlq").mkdir()
    (tmp_path / "dlq" / "peek.py").write_text(
        "def f(scope):\n    c = client('sqs', scope)\n    return _receive(c, 'ReceiveMessage', QueueUrl='u')\n")
    (tmp_path / "shiny.py").write_text(
        "def f(scope):\n    c = client('lambda', scope)\n    return call(c, 'PublishVersion', FunctionName='x')\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["AWS_DIR"]), "AWS_DIR", tmp_path)
    with pytest.raises(AssertionError) as exc:
        test_every_call_ops_aws_makes_is_in_a_policy()
    assert "ops/aws/shiny.py:3 calls lambda:PublishVersion, which no policy names" in str(exc.value)
    assert "sqs:ReceiveMessage" not in str(exc.value)  # has its (pending) row already
    from tests.ops.aws import test_permissions as me

    assert me.code_calls()["sqs:ReceiveMessage"] == "ops/aws/dlq/peek.py:3"
    assert TABLE in str(exc.value)


def test_every_row_is_a_call_the_code_makes_or_is_marked_pending():
    calls = code_calls()
    unused = [p.key for p in PERMISSIONS if not p.pending and p.key not in calls]
    assert not unused, f"rows in {TABLE} for calls ops/aws does not make (remove them or mark pending=): {unused}"
    arrived = [f"{p.key} (pending={p.pending!r}) is called at {calls[p.key]}" for p in PERMISSIONS
               if p.pending and p.key in calls]
    assert not arrived, f"drop pending= from these rows in {TABLE}: " + "; ".join(arrived)


def test_every_row_names_a_real_operation_and_its_probe_takes_real_parameters():
    for p in PERMISSIONS:
        model = _model(p.service)
        assert p.operation in model.operation_names, p.key
        assert p.action.split(":")[0] == {"monitoring": "cloudwatch"}.get(p.service, p.service), p.key
        if p.probe:
            members = model.operation_model(p.operation).input_shape.members
            assert set(p.probe) <= set(members), (p.key, set(p.probe) - set(members))
            required = set(model.operation_model(p.operation).input_shape.required_members)
            assert required <= set(p.probe), (p.key, required - set(p.probe))
    assert len({p.key for p in PERMISSIONS}) == len(PERMISSIONS)


def test_the_policies_split_reading_from_acting():
    read, operate = set(actions_of(READ_ONLY)), set(actions_of(OPERATOR))
    assert {"lambda:ListFunctions", "cloudwatch:GetMetricData", "cloudtrail:LookupEvents"} <= read
    assert {"lambda:UpdateAlias", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
            "lambda:UpdateEventSourceMapping", "sqs:StartMessageMoveTask", "sqs:SendMessage", "sqs:DeleteMessage",
            "lambda:InvokeFunction"} <= operate
    assert not {a for a in read - {"logs:StartQuery"} if re.search(r":(Update|Put|Delete|Send|Start|Purge|Invoke)", a)}
    for policy in (READ_ONLY, OPERATOR):
        doc = json.loads(policy_json(policy))
        for st in doc["Statement"]:
            assert st["Effect"] == "Allow" and all("*" not in a for a in st["Action"]), st
    doc = json.loads(policy_json(READ_ONLY, account="123456789012", region="eu-west-1"))
    scoped = {tuple(st["Action"]): st["Resource"] for st in doc["Statement"]}
    assert scoped[("logs:FilterLogEvents", "logs:StartQuery")] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/*"


def test_the_files_in_the_repo_are_what_the_commands_print(capsys):
    root = AWS_DIR.parents[1] / "deploy" / "iam"
    for args, name in [(["--read-only"], "read-only.json"), (["--operator"], "operator.json"),
                       (["--assumer"], "assumer.json")]:
        call_command("iam-policy", *args)
        assert capsys.readouterr().out == (root / name).read_text(), f"regenerate deploy/iam/{name}"
    call_command("iam-template")
    out = capsys.readouterr().out
    assert out == (root / "lambda-ops-role.json").read_text() == template_json()
    template = json.loads(out)
    trust = template["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_iam_policy_refuses_bad_arguments():
    with pytest.raises(CommandError, match="--account-id"):
        call_command("iam-policy", "--read-only", "--account-id", "12")
    with pytest.raises(CommandError, match="--role-arn"):
        call_command("iam-policy", "--assumer", "--role-arn", "arn:aws:iam::1:role/x")
