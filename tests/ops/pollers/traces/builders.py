"""Hand-built X-Ray traces with known shapes, written to the sandbox over its PutTraceSegments API."""

from __future__ import annotations

import json
import random

import boto3
from botocore.config import Config

REGION = "us-east-1"
FAST = Config(retries={"max_attempts": 1})


def xray():
    return boto3.client("xray", region_name=REGION, config=FAST)


def trace_id_at(start: float, n: int) -> str:
    return f"1-{int(start):08x}-{n:024x}"


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def known_trace(*, fn_name: str, fn_arn: str, start: float, n: int = 1) -> tuple[str, list[dict], list[tuple[str, int, float, float]]]:
    """A cold, faulted invocation of v7: (trace id, documents, expected waterfall rows as
    (name, depth, offset ms, duration ms) in order)."""
    rng = random.Random(n)
    tid = trace_id_at(start, n)
    outer_id, fn_id = _id(rng), _id(rng)
    t0 = start
    outer = {"name": fn_name, "id": outer_id, "trace_id": tid, "start_time": t0, "end_time": t0 + 0.5,
             "origin": "AWS::Lambda", "resource_arn": fn_arn, "fault": True,
             "http": {"response": {"status": 502}}, "aws": {"request_id": f"req-{n:04d}"}}
    fn = {"name": fn_name, "id": fn_id, "trace_id": tid, "parent_id": outer_id, "start_time": t0 + 0.001,
          "end_time": t0 + 0.499, "origin": "AWS::Lambda::Function", "resource_arn": f"{fn_arn}:7", "fault": True,
          "annotations": {"cold_start": True, "version": "7", "team": "pay"},
          "metadata": {"default": {"order": {"id": 42}}},
          "aws": {"function_arn": fn_arn},
          "subsegments": [
              {"name": "Initialization", "id": _id(rng), "start_time": t0 + 0.001, "end_time": t0 + 0.121},
              {"name": "Invocation", "id": _id(rng), "start_time": t0 + 0.121, "end_time": t0 + 0.421, "fault": True,
               "cause": {"exceptions": [{"id": _id(rng), "type": "UpstreamError", "message": "stripe answered 502",
                                         "stack": [{"path": "/var/task/pay.py", "line": 31, "label": "charge"}]}]},
               "subsegments": [
                   {"name": "DynamoDB", "id": _id(rng), "namespace": "aws", "start_time": t0 + 0.131, "end_time": t0 + 0.171,
                    "aws": {"operation": "GetItem", "table_name": "orders"}},
                   {"name": "api.stripe.com", "id": _id(rng), "namespace": "remote", "start_time": t0 + 0.181,
                    "end_time": t0 + 0.261, "fault": True,
                    "http": {"request": {"method": "POST", "url": "https://api.stripe.com/v1/charges"}, "response": {"status": 502}}},
               ]},
              {"name": "Overhead", "id": _id(rng), "start_time": t0 + 0.421, "end_time": t0 + 0.423},
          ]}
    rows = [
        (fn_name, 0, 0.0, 500.0),
        (fn_name, 1, 1.0, 498.0),
        ("Initialization", 2, 1.0, 120.0),
        ("Invocation", 2, 121.0, 300.0),
        ("DynamoDB", 3, 131.0, 40.0),
        ("api.stripe.com", 3, 181.0, 80.0),
        ("Overhead", 2, 421.0, 2.0),
    ]
    return tid, [outer, fn], rows


def put(docs: list[dict]) -> None:
    client = xray()
    for i in range(0, len(docs), 20):
        res = client.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs[i : i + 20]])
        assert not res.get("UnprocessedTraceSegments"), res


def huge_trace(*, fn_name: str, fn_arn: str, start: float, subsegments: int, n: int = 9) -> tuple[str, list[dict]]:
    """A warm invocation whose Invocation holds ``subsegments`` DynamoDB calls, 0.1 ms apart."""
    rng = random.Random(n)
    tid = trace_id_at(start, n)
    calls = [{"name": "DynamoDB", "id": f"{i:016x}", "namespace": "aws", "start_time": start + 0.002 + i * 0.0001,
              "end_time": start + 0.002 + i * 0.0001 + 0.00005, "aws": {"operation": "GetItem"}} for i in range(subsegments)]
    end = start + 0.004 + subsegments * 0.0001
    doc = {"name": fn_name, "id": _id(rng), "trace_id": tid, "start_time": start, "end_time": end,
           "origin": "AWS::Lambda::Function", "resource_arn": fn_arn, "aws": {"request_id": f"req-huge-{n}"},
           "subsegments": [{"name": "Invocation", "id": _id(rng), "start_time": start + 0.001, "end_time": end - 0.001,
                            "subsegments": calls}]}
    return tid, [doc]
