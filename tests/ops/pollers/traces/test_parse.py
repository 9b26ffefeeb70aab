"""trace_parse on hostile input: every bad shape is stored or refused with a reason, never raised."""

from __future__ import annotations

import json

import pytest

from ops.pollers.traces.parse import MAX_DEPTH, trace_parse, tree_flatten
from tests.ops.pollers.traces.builders import huge_trace, known_trace

ARN = "arn:aws:lambda:us-east-1:123456789012:function:pay"
T0 = 1_800_000_000.0


def _texts(docs):
    return [(d["id"], json.dumps(d)) for d in docs]


def test_a_known_trace_gives_its_columns():
    tid, docs, rows = known_trace(fn_name="pay", fn_arn=ARN, start=T0)
    parsed, refused = trace_parse(tid, _texts(docs), max_nodes=100)
    assert refused == []
    assert parsed.status == "fault" and parsed.http_status == 502
    assert parsed.cold_start and parsed.init_ms == pytest.approx(120.0, abs=0.01)
    assert parsed.version == "7" and parsed.request_id == "req-0001"
    assert parsed.duration_ms == pytest.approx(500.0, abs=0.01)
    assert [(c.service, c.operation, c.fault) for c in parsed.calls] == [("DynamoDB", "GetItem", False), ("api.stripe.com", "POST", True)]
    assert parsed.function_arns == [ARN]
    assert parsed.error_type == "UpstreamError"
    tree, _ = tree_flatten([(d["id"], d) for d in docs], max_nodes=100)
    got = [(n.name, n.depth, round((n.start - T0) * 1000, 3), round(n.duration_ms, 3)) for n in tree.nodes]
    assert got == [(a, b, pytest.approx(c, abs=0.01), pytest.approx(d, abs=0.01)) for a, b, c, d in rows]


@pytest.mark.parametrize("text, detail", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not an object"),
    (json.dumps({"id": "a", "name": "x"}), "no id, name or numeric start_time"),
    (json.dumps({"id": "a", "name": "x", "start_time": "yesterday"}), "no id, name or numeric start_time"),
    ("[" * 100_000 + "]" * 100_000, "not JSON"),
])
def test_malformed_documents_are_refused_with_a_reason_and_the_rest_kept(text, detail):
    tid, docs, _ = known_trace(fn_name="pay", fn_arn=ARN, start=T0)
    parsed, refused = trace_parse(tid, [*_texts(docs), ("bad", text)], max_nodes=100)
    assert parsed is not None and parsed.segment_count == 2
    assert len(refused) == 1 and refused[0].reason == "bad_segment" and detail in refused[0].detail


def test_a_trace_with_no_readable_segment_is_none():
    parsed, refused = trace_parse("1-00000000-000000000000000000000000", [("a", "nope")], max_nodes=10)
    assert parsed is None and len(refused) == 1


def test_in_progress_unknown_parent_and_clock_skew_are_kept_and_noted():
    doc = {"name": "pay", "id": "s1", "trace_id": "t", "start_time": T0, "in_progress": True,
           "origin": "AWS::Lambda::Function", "resource_arn": ARN,
           "subsegments": [{"name": "early", "id": "c1", "start_time": T0 - 0.5, "end_time": T0 + 0.1}]}
    orphan = {"name": "orphan", "id": "s2", "trace_id": "t", "parent_id": "ffffffffffffffff", "start_time": T0 + 0.2,
              "end_time": T0 + 0.3, "type": "subsegment"}
    parsed, refused = trace_parse("t", _texts([doc, orphan]), max_nodes=100)
    assert refused == []
    assert parsed.in_progress
    notes = " ".join(parsed.notes)
    assert "in progress" in notes and "not in the trace" in notes and "clock skew" in notes
    # the in-progress node is open: the trace ends at the last end known
    assert parsed.duration_ms == pytest.approx(800.0, abs=0.01)


def test_a_huge_trace_is_stored_cut_with_the_cut_recorded():
    tid, docs = huge_trace(fn_name="pay", fn_arn=ARN, start=T0, subsegments=3000)
    parsed, refused = trace_parse(tid, _texts(docs), max_nodes=1000)
    assert parsed.subsegment_count == 999  # the segment is one of the 1,000 nodes
    assert [r.reason for r in refused] == ["trace_too_large"]
    assert any("2,002 subsegment(s)" in n for n in parsed.notes)
    stored = json.dumps(parsed.documents)
    assert stored.count('"DynamoDB"') == 998


def test_deep_nesting_is_cut_not_recursed_into():
    leaf = {"name": "leaf", "id": "x0", "start_time": T0, "end_time": T0 + 1}
    doc = leaf
    for i in range(1, 200):
        doc = {"name": f"n{i}", "id": f"x{i}", "start_time": T0, "end_time": T0 + 1, "subsegments": [doc]}
    top = {"name": "pay", "id": "top", "trace_id": "t", "start_time": T0, "end_time": T0 + 1, "subsegments": [doc]}
    parsed, _ = trace_parse("t", _texts([top]), max_nodes=10_000)
    assert parsed.subsegment_count == MAX_DEPTH
    assert any("nested deeper" in n for n in parsed.notes)


def test_segments_naming_each_other_as_parents_do_not_loop():
    a = {"name": "a", "id": "a", "parent_id": "b", "start_time": T0, "end_time": T0 + 1}
    b = {"name": "b", "id": "b", "parent_id": "a", "start_time": T0 + 0.1, "end_time": T0 + 0.9}
    tree, _ = tree_flatten([("a", a), ("b", b)], max_nodes=10)
    assert sorted(n.name for n in tree.nodes) == ["a", "b"]
