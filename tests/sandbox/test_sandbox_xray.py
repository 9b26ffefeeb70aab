"""X-Ray GetTraceSummaries: real summary fields, filter expressions, paging."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.clock import hours_ago

T0 = hours_ago(2).timestamp()


def seg(trace_no, name, start, dur, *, error=False, fault=False, annotations=None, cold=False, status=200):
    tid = f"1-{int(start):08x}-{trace_no:024x}"
    outer = {"name": name, "id": f"{trace_no:015x}a", "trace_id": tid, "start_time": start,
             "end_time": start + dur, "origin": "AWS::Lambda", "http": {"response": {"status": status}}}
    inner = {"name": name, "id": f"{trace_no:015x}b", "trace_id": tid, "parent_id": outer["id"],
             "start_time": start + 0.001, "end_time": start + dur - 0.001, "origin": "AWS::Lambda::Function",
             "annotations": annotations or {}, "subsegments": []}
    if cold:
        inner["subsegments"].append({"name": "Initialization", "id": f"{trace_no:015x}c", "start_time": start,
                                     "end_time": start + 0.2})
    if error:
        inner["error"] = True
    if fault:
        inner["fault"] = True
    return [json.dumps(outer), json.dumps(inner)]


@pytest.fixture()
def xray(clean, aws):
    client = aws("xray")
    docs = []
    docs += seg(1, "orders", T0 + 1, 0.25, annotations={"tenant": "acme", "cold_start": True}, cold=True)
    docs += seg(2, "orders", T0 + 2, 2.75, fault=True, annotations={"tenant": "globex"}, status=502)
    docs += seg(3, "payments", T0 + 3, 0.05, error=True, annotations={"tenant": "acme", "amount": 42}, status=400)
    docs += seg(4, "payments", T0 + 4, 1.5, annotations={"tenant": "initech"})
    client.put_trace_segments(TraceSegmentDocuments=docs)
    return client


def ids(client, expr=None):
    kw = dict(StartTime=datetime.fromtimestamp(T0, timezone.utc),
              EndTime=datetime.fromtimestamp(T0, timezone.utc) + timedelta(minutes=5))
    if expr:
        kw["FilterExpression"] = expr
    out = []
    for page in client.get_paginator("get_trace_summaries").paginate(**kw):
        out += [int(s["Id"].rsplit("-", 1)[1], 16) for s in page["TraceSummaries"]]
    return sorted(out)


def test_summary_fields_are_real(xray):
    res = xray.get_trace_summaries(StartTime=datetime.fromtimestamp(T0, timezone.utc),
                                   EndTime=datetime.fromtimestamp(T0 + 300, timezone.utc))
    by = {int(s["Id"].rsplit("-", 1)[1], 16): s for s in res["TraceSummaries"]}
    assert set(by) == {1, 2, 3, 4}
    assert by[1]["HasError"] is False and by[1]["HasFault"] is False
    assert by[2]["HasFault"] is True and by[2]["HasError"] is False
    assert by[3]["HasError"] is True
    assert by[2]["Duration"] == pytest.approx(2.75)
    assert by[1]["Annotations"]["tenant"][0]["AnnotationValue"]["StringValue"] == "acme"
    assert by[3]["Annotations"]["amount"][0]["AnnotationValue"]["NumberValue"] == 42
    assert by[2]["Http"]["HttpStatus"] == 502


@pytest.mark.parametrize("expr,expected", [
    ("error", [3]),
    ("fault", [2]),
    ("fault = false", [1, 3, 4]),
    ("responsetime > 1", [2, 4]),
    ("duration >= 0.25 AND duration < 2", [1, 4]),
    ('annotation.tenant = "acme"', [1, 3]),
    ("annotation.amount > 10", [3]),
    ("annotation.cold_start = true", [1]),
    ('service("payments")', [3, 4]),
    ('service("orders") { fault }', [2]),
    ('service("orders") AND NOT fault', [1]),
    ("error OR fault", [2, 3]),
    ('(error || fault) && annotation.tenant = "acme"', [3]),
    ("http.status = 502", [2]),
])
def test_filter_expressions(xray, expr, expected):
    assert ids(xray, expr) == expected


def test_bad_expression_is_a_client_error(xray):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        ids(xray, "responsetime >")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_paging_with_next_token(xray, monkeypatch):
    from sandbox.fills import xray_fill

    monkeypatch.setattr(xray_fill, "PAGE_SIZE", 3)
    first = xray.get_trace_summaries(StartTime=datetime.fromtimestamp(T0, timezone.utc),
                                     EndTime=datetime.fromtimestamp(T0 + 300, timezone.utc))
    assert len(first["TraceSummaries"]) == 3 and first["NextToken"]
    assert ids(xray) == [1, 2, 3, 4]
    traces = xray.batch_get_traces(TraceIds=[first["TraceSummaries"][0]["Id"]])["Traces"]
    assert traces[0]["Duration"] == pytest.approx(0.25)
