"""What the sandbox emitted, read straight from its X-Ray API (no product code): the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import boto3
from botocore.config import Config

FAST = Config(retries={"max_attempts": 1})


def emitted(region: str, start: datetime, end: datetime) -> dict[str, dict]:
    """{trace id: {"function": name, "cold": bool, "init_ms": float|None, "fault": bool, "error": bool,
    "calls": Counter(service), "docs": [...]}} for every trace the sandbox holds in the window."""
    xray = boto3.client("xray", region_name=region, config=FAST)
    ids = [s["Id"] for p in xray.get_paginator("get_trace_summaries").paginate(StartTime=start, EndTime=end)
           for s in p["TraceSummaries"]]
    out = {}
    for i in range(0, len(ids), 5):
        for t in xray.batch_get_traces(TraceIds=ids[i : i + 5])["Traces"]:
            docs = [json.loads(s["Document"]) for s in t["Segments"]]
            fn_seg = next(d for d in docs if d.get("origin") == "AWS::Lambda::Function")
            init = next((s for s in fn_seg.get("subsegments", []) if s["name"] == "Initialization"), None)
            inv = next(s for s in fn_seg["subsegments"] if s["name"] == "Invocation")
            out[t["Id"]] = {
                "function": fn_seg["name"],
                "cold": init is not None,
                "init_ms": (init["end_time"] - init["start_time"]) * 1000 if init else None,
                "fault": any(d.get("fault") for d in docs),
                "error": any(d.get("error") for d in docs),
                "calls": Counter(s["name"] for s in inv.get("subsegments", []) if s.get("namespace") in ("aws", "remote")),
                "docs": docs,
            }
    return out
