"""What one invocation leaves behind: log lines, X-Ray segments, failed-event messages."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any

from .estate import FunctionSpec


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _ms(ts: float) -> int:
    return int(ts * 1000)


_RUNTIME_VERSION = {"python3.12": "python:3.12.v38", "nodejs20.x": "nodejs:20.v41", "java21": "java:21.v27",
                    "provided.al2023": "provided:al2023.v80"}


def _error_text(f: FunctionSpec, rid: str, ts: float, rng: random.Random) -> str:
    if f.runtime.startswith("python"):
        choice = rng.random()
        if choice < 0.5:
            return ("[ERROR] KeyError: 'id'\nTraceback (most recent call last):\n"
                    "  File \"/var/task/app.py\", line 42, in handler\n    order_id = event['id']")
        if choice < 0.8:
            return ("[ERROR] ClientError: An error occurred (ConditionalCheckFailedException) when calling the "
                    "PutItem operation: The conditional request failed\nTraceback (most recent call last):\n"
                    "  File \"/var/task/app.py\", line 77, in handler\n    table.put_item(Item=item, "
                    "ConditionExpression='attribute_not_exists(pk)')")
        return ("[ERROR] TimeoutError: upstream did not answer within 5s\nTraceback (most recent call last):\n"
                "  File \"/var/task/client.py\", line 19, in call\n    raise TimeoutError('upstream did not answer within 5s')")
    if f.runtime.startswith("nodejs"):
        body = {"errorType": "TypeError", "errorMessage": "Cannot read properties of undefined (reading 'id')",
                "trace": ["TypeError: Cannot read properties of undefined (reading 'id')",
                          "    at Runtime.handler (file:///var/task/index.mjs:12:30)"]}
        if rng.random() < 0.4:
            body = {"errorType": "Error", "errorMessage": "Request failed with status code 502",
                    "trace": ["Error: Request failed with status code 502",
                              "    at createError (/var/task/node_modules/axios/lib/core/createError.js:16:15)"]}
        return f"{_iso(ts)}\t{rid}\tERROR\tInvoke Error \t{json.dumps(body)}"
    if f.runtime.startswith("java"):
        return ("java.lang.IllegalStateException: price not found for sku=SKU-1042\n"
                "\tat com.example.Handler.handleRequest(Handler.java:58)\n"
                "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Unknown Source)")
    return json.dumps({"errorMessage": "upstream returned 503", "errorType": "errorString"})


def invocation_log(f: FunctionSpec, version: str, rid: str, ts: float, dur: float, billed: int, used: int,
                   init: float, errored: bool, timed_out: bool, kind_err: str | None,
                   rng: random.Random) -> list[list]:
    end = ts + dur / 1000.0
    lines: list[list] = []
    if f.log_format == "json":
        if init:
            lines.append([_ms(ts - init / 1000.0), json.dumps({
                "time": _iso(ts - init / 1000.0), "type": "platform.initStart",
                "record": {"initializationType": "on-demand", "phase": "init",
                           "runtimeVersion": _RUNTIME_VERSION.get(f.runtime, f.runtime),
                           "functionName": f.name, "functionVersion": version}})])
        lines.append([_ms(ts), json.dumps({"time": _iso(ts), "type": "platform.start",
                                           "record": {"requestId": rid, "version": version}})])
        if rng.random() < 0.15:
            lines.append([_ms(ts) + 1, json.dumps({"timestamp": _iso(ts + 0.001), "level": "INFO",
                                                   "message": "processing event", "logger": "root",
                                                   "requestId": rid})])
        if errored and not timed_out and kind_err != "oom":
            lines.append([max(_ms(ts) + 1, _ms(end) - 1), json.dumps({
                "timestamp": _iso(end), "log_level": "ERROR", "errorMessage": "'id'", "errorType": "KeyError",
                "requestId": rid, "stackTrace": ["  File \"/var/task/app.py\", line 42, in handler\n    order_id = event['id']\n"]})])
        metrics: dict[str, Any] = {"durationMs": dur, "billedDurationMs": billed, "memorySizeMB": f.memory,
                                   "maxMemoryUsedMB": used}
        if init:
            metrics["initDurationMs"] = round(init, 2)
        status = "timeout" if timed_out else ("error" if errored else "success")
        rec: dict[str, Any] = {"requestId": rid, "metrics": metrics, "status": status}
        if timed_out:
            rec["errorType"] = "Sandbox.Timedout"
        elif kind_err == "oom":
            rec["errorType"] = "Runtime.OutOfMemory"  # what AWS states for an OOM kill
        lines.append([_ms(end), json.dumps({"time": _iso(end), "type": "platform.report", "record": rec})])
        return lines

    if init:
        lines.append([_ms(ts - init / 1000.0),
                      f"INIT_START Runtime Version: {_RUNTIME_VERSION.get(f.runtime, f.runtime)}\t"
                      f"Runtime Version ARN: arn:aws:lambda:{f.region}::runtime:{rng.getrandbits(256):064x}"])
    lines.append([_ms(ts), f"START RequestId: {rid} Version: {version}"])
    if rng.random() < 0.15:
        if f.runtime.startswith("python"):
            lines.append([_ms(ts) + 1, f"[INFO]\t{_iso(ts + 0.001)}\t{rid}\tprocessing event"])
        elif f.runtime.startswith("nodejs"):
            lines.append([_ms(ts) + 1, f"{_iso(ts + 0.001)}\t{rid}\tINFO\tprocessing event"])
        else:
            lines.append([_ms(ts) + 1, f"processing event request_id={rid}"])
    status = ""
    if timed_out:
        lines.append([_ms(end), f"{_iso(end)} {rid} Task timed out after {dur / 1000.0:.2f} seconds"])
        status = "Status: timeout"
    elif errored and kind_err == "oom":
        lines.append([_ms(end), f"RequestId: {rid} Error: Runtime exited with error: signal: killed\nRuntime.ExitError"])
        status = "Status: error\tError Type: Runtime.OutOfMemory"
    elif errored:
        lines.append([max(_ms(ts) + 1, _ms(end) - 1), _error_text(f, rid, end, rng)])
    lines.append([_ms(end), f"END RequestId: {rid}"])
    report = (f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {billed} ms\t"
              f"Memory Size: {f.memory} MB\tMax Memory Used: {used} MB\t")
    if init:
        report += f"Init Duration: {init:.2f} ms\t"
    if status:
        report += status
    lines.append([_ms(end), report])
    return lines


# -- X-Ray -------------------------------------------------------------------------------------------------
_DOWNSTREAM = [
    ("DynamoDB", "aws", {"operation": "GetItem", "table_name": "orders", "region": None}),
    ("DynamoDB", "aws", {"operation": "PutItem", "table_name": "orders", "region": None}),
    ("S3", "aws", {"operation": "GetObject", "bucket_name": "assets-prod", "region": None}),
    ("api.stripe.com", "remote", None),
    ("SQS", "aws", {"operation": "SendMessage", "queue_url": "https://sqs/q", "region": None}),
]


def trace_segments(f: FunctionSpec, version: str, rid: str, ts: float, dur: float, init: float,
                   fault: bool, timed_out: bool, rng: random.Random) -> list[str]:
    hexid = lambda: f"{rng.getrandbits(64):016x}"  # noqa: E731
    start = ts - init / 1000.0
    end = ts + dur / 1000.0
    trace_id = f"1-{int(start):08x}-{rng.getrandbits(96):024x}"
    outer_id, fn_id = hexid(), hexid()
    client_error = fault and f.kind == "api" and rng.random() < 0.3
    status = 200 if not fault else (400 if client_error else 502)
    outer: dict[str, Any] = {
        "name": f.name, "id": outer_id, "trace_id": trace_id, "start_time": round(start, 6),
        "end_time": round(end + 0.004, 6), "origin": "AWS::Lambda", "resource_arn": f.arn,
        "http": {"response": {"status": status}}, "aws": {"request_id": rid},
    }
    subs: list[dict[str, Any]] = []
    if init:
        subs.append({"name": "Initialization", "id": hexid(), "start_time": round(start, 6),
                     "end_time": round(ts, 6), "aws": {"function_arn": f.arn}})
    inv: dict[str, Any] = {"name": "Invocation", "id": hexid(), "start_time": round(ts, 6),
                           "end_time": round(end, 6), "subsegments": []}
    t = ts + 0.001
    for _ in range(rng.randint(0, 3)):
        name, ns, aws = _DOWNSTREAM[rng.randrange(len(_DOWNSTREAM))]
        d = min(end - t, rng.uniform(0.003, max(0.004, dur / 1000.0 / 3)))
        if d <= 0:
            break
        sub: dict[str, Any] = {"name": name, "id": hexid(), "start_time": round(t, 6), "end_time": round(t + d, 6),
                               "namespace": ns}
        if aws:
            sub["aws"] = {k: (v if v is not None else f.region) for k, v in aws.items()}
        if ns == "remote":
            sub["http"] = {"request": {"url": "https://api.stripe.com/v1/charges", "method": "POST"},
                           "response": {"status": 200}}
        inv["subsegments"].append(sub)
        t += d
    if fault and not client_error:
        inv["fault"] = True
        inv["cause"] = {"exceptions": [{"id": hexid(), "message": "Task timed out" if timed_out else "KeyError: 'id'",
                                        "type": "Sandbox.Timedout" if timed_out else "KeyError"}]}
    elif client_error:
        inv["error"] = True
    subs.append(inv)
    subs.append({"name": "Overhead", "id": hexid(), "start_time": round(end, 6), "end_time": round(end + 0.002, 6)})
    fn_seg: dict[str, Any] = {
        "name": f.name, "id": fn_id, "trace_id": trace_id, "parent_id": outer_id,
        "start_time": round(start + 0.0005, 6), "end_time": round(end + 0.003, 6),
        "origin": "AWS::Lambda::Function", "resource_arn": f"{f.arn}:{version}" if version != "$LATEST" else f.arn,
        "annotations": {"cold_start": bool(init), "version": version, "service": f.service, "team": f.team},
        "aws": {"function_arn": f.arn, "resource_names": [f.name]},
        "subsegments": subs,
    }
    if fault and not client_error:
        fn_seg["fault"] = True
        outer["fault"] = True
    elif client_error:
        fn_seg["error"] = True
        outer["error"] = True
    return [outer, fn_seg]


# -- failed events ------------------------------------------------------------------------------------------
def _hostile(rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    r = rng.random()
    if r < 0.002:
        return "x" * (256 * 1024 - 64) + json.dumps({"truncated": True})[:64].ljust(64), {}
    if r < 0.02:
        return '{"order_id": 1042, "items": [', {}
    if r < 0.035:
        return '{"note": "raw ctrl \x01 chars \x1b[31m red \x7f", "tab": "a\tb"}', {}
    if r < 0.05:
        return json.dumps({"blob": True}), {"payload": {"DataType": "Binary", "BinaryValue": bytes(range(0, 256, 7))}}
    if r < 0.06:
        return json.dumps({"name": "Zoë 🚀 ユーザー", "emoji": "\U0001F600"}, ensure_ascii=False), {}
    return None


def sqs_dlq_message(f: FunctionSpec, rid: str, ts: float, rng: random.Random) -> tuple[str, dict[str, Any]]:
    hostile = _hostile(rng)
    if hostile:
        return hostile
    body = {"type": f"{f.service}.requested", "id": f"{f.service[:3]}-{rng.randint(10000, 99999)}",
            "amount": round(rng.uniform(1, 900), 2), "currency": "EUR" if f.region == "eu-west-1" else "USD",
            "created_at": _iso(ts)}
    attrs: dict[str, Any] = {"source": {"DataType": "String", "StringValue": f"{f.service}-api"},
                             "attempt": {"DataType": "Number", "StringValue": str(rng.randint(1, 3))}}
    if rng.random() < 0.1:  # some producers attach a binary checksum
        attrs["checksum"] = {"DataType": "Binary", "BinaryValue": rng.getrandbits(128).to_bytes(16, "big")}
    return json.dumps(body), attrs


def async_event(f: FunctionSpec, rid: str, ts: float, rng: random.Random) -> dict[str, Any]:
    if f.service == "images":
        key = f"uploads/{rng.getrandbits(40):010x}.jpg"
        return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": f.region,
                             "eventTime": _iso(ts), "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": "media-uploads", "arn": "arn:aws:s3:::media-uploads"},
                                    "object": {"key": key, "size": rng.randint(10_000, 9_000_000)}}}]}
    if f.kind == "api" or f.service == "webhooks":
        return {"resource": "/hooks/{id}", "path": f"/hooks/{rng.randint(1, 999)}", "httpMethod": "POST",
                "headers": {"content-type": "application/json"}, "requestContext": {"requestId": rid},
                "body": json.dumps({"event": "invoice.paid", "id": f"evt_{rng.getrandbits(48):012x}"}),
                "isBase64Encoded": False}
    return {"version": "0", "id": str(rid), "detail-type": f"{f.service.title()} Requested", "source": f"app.{f.service}",
            "account": f.account, "time": _iso(ts), "region": f.region, "resources": [],
            "detail": {"user_id": rng.randint(1, 10**6), "template": "welcome"}}


def lambda_dlq_message(f: FunctionSpec, rid: str, event: dict[str, Any], timed_out: bool,
                       rng: random.Random) -> tuple[str, dict[str, Any]]:
    hostile = _hostile(rng)
    body = hostile[0] if hostile else json.dumps(event)
    message = f"Task timed out after {f.timeout}.00 seconds" if timed_out else "KeyError: 'id'"
    attrs = {"RequestID": {"DataType": "String", "StringValue": rid},
             "ErrorCode": {"DataType": "Number", "StringValue": "200"},
             "ErrorMessage": {"DataType": "String", "StringValue": message}}
    if hostile:
        attrs.update(hostile[1])
    return body, attrs


def destination_record(f: FunctionSpec, rid: str, version: str, ts: float, event: dict[str, Any],
                       timed_out: bool) -> str:
    return json.dumps({
        "version": "1.0", "timestamp": _iso(ts),
        "requestContext": {"requestId": rid, "functionArn": f"{f.arn}:{version}",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": version, "functionError": "Unhandled"},
        "responsePayload": ({"errorMessage": f"Task timed out after {f.timeout}.00 seconds"} if timed_out else
                            {"errorMessage": "'id'", "errorType": "KeyError", "requestId": rid,
                             "stackTrace": ["  File \"/var/task/app.py\", line 42, in handler\n"]}),
    })
