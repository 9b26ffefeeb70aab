"""Wire-level checks: the fast CBOR/JSON GetMetricData encoders parse with botocore's own parsers,
and a reset keeps the no-Docker Lambda configuration."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import botocore.session
from botocore.parsers import create_parser

from sandbox.fills.metrics import encode_cbor, encode_json
from tests.clock import hours_ago

T = int(hours_ago(1).timestamp())

OUT = {"MetricDataResults": [
    {"Id": "a", "Label": "Invocations", "Timestamps": [T, T + 60], "Values": [3.0, 4.5],
     "StatusCode": "Complete"},
    {"Id": "b", "Label": "Duration", "Timestamps": [], "Values": [], "StatusCode": "PartialData"}],
    "Messages": [], "NextToken": "abc"}


def _shape():
    model = botocore.session.get_session().get_service_model("cloudwatch")
    return model.operation_model("GetMetricData").output_shape


def _check(parsed):
    first, second = parsed["MetricDataResults"]
    assert first["Values"] == [3.0, 4.5]
    assert [t.astimezone(timezone.utc) for t in first["Timestamps"]] == [
        datetime.fromtimestamp(T, timezone.utc), datetime.fromtimestamp(T + 60, timezone.utc)]
    assert second["StatusCode"] == "PartialData" and second["Values"] == []
    assert parsed["NextToken"] == "abc"


def test_cbor_encoding_parses_with_botocore():
    parser = create_parser("smithy-rpc-v2-cbor")
    resp = {"status_code": 200, "headers": {"smithy-protocol": "rpc-v2-cbor"}, "body": encode_cbor(OUT)}
    _check(parser.parse(resp, _shape()))


def test_json_encoding_parses_with_botocore():
    parser = create_parser("json")
    resp = {"status_code": 200, "headers": {}, "body": encode_json(OUT)}
    _check(parser.parse(resp, _shape()))


def test_reset_keeps_no_docker_lambda(clean, aws):
    iam = aws("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    lam = aws("lambda")
    lam.create_function(FunctionName="echo", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": buf.getvalue()})
    out = lam.invoke(FunctionName="echo", Payload=json.dumps({"hello": 1}))
    assert json.loads(out["Payload"].read()) == {"hello": 1}
    clean.reset()
    assert lam.list_functions()["Functions"] == []
    lam2 = aws("lambda")
    lam2.create_function(FunctionName="echo", Runtime="python3.12", Role=aws("iam").create_role(
        RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"], Handler="app.handler",
        Code={"ZipFile": buf.getvalue()})
    assert json.loads(lam2.invoke(FunctionName="echo", Payload=b'{"x": 2}')["Payload"].read()) == {"x": 2}


def test_cbor_fault_parses_as_aws_error():
    from sandbox.fills.faults import error_response

    status, headers, body = error_response("cloudwatch", "Throttling", "Rate exceeded",
                                           environ={"CONTENT_TYPE": "application/cbor"})
    parser = create_parser("smithy-rpc-v2-cbor")
    parsed = parser.parse({"status_code": status, "headers": dict(headers), "body": body}, _shape())
    assert parsed["Error"]["Code"] == "Throttling" and status == 400


def test_cli_accounts_json():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "sandbox", "accounts", "--json"], cwd=root, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    data = json.loads(out)
    assert [a["account_id"] for a in data["accounts"]] == ["123456789012", "210987654321"]
    assert data["accounts"][1]["role_arn"] == "arn:aws:iam::210987654321:role/LambdaOpsReadOnly"
    assert data["accounts"][1]["external_id"] == "lambda-ops"
    assert data["regions"] == ["us-east-1", "eu-west-1"]
