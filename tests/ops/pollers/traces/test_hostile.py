"""Hostile traces through the sandbox's X-Ray API: a segment that is not JSON, an orphan
subsegment, clock skew, an in-progress segment, thousands of subsegments, a failing endpoint —
stored or quarantined with a reason, never a crashed poll, never a re-fetched complete trace."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from ops.models import PollStatus, Quarantine, Trace, TraceSegment
from ops.pollers.base import poll_run
from ops.pollers.traces import poll as traces
from sandbox import testing as sandbox
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.traces.builders import REGION, huge_trace, known_trace, put

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fn(aws, settings):
    settings.TRACES_PER_CYCLE = 50
    account = AccountFactory(name="prod", account_id="123456789012", regions=[REGION])
    return FunctionFactory(account=account, name="pay")


def _poll(fn):
    return poll_run(source="traces", account=fn.account, region=REGION, work=traces.traces_poll)


def test_a_segment_that_is_not_json_is_quarantined_and_the_trace_kept(fn, sandbox_server):
    from moto.xray.models import TraceSegment as MotoSegment, xray_backends

    start = time.time() - 120
    tid, docs, _ = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=start)
    put(docs)
    # A third writer's document that is not JSON, stored as it came (the API would refuse it on put).
    backend = xray_backends["123456789012"][REGION]
    backend._segment_collection.put_segment(MotoSegment("junk", "0123456789abcdef", tid, start + 0.01, raw='{"name": "junk", "id":',
                                                        end_time=start + 0.02))
    outcome = _poll(fn)
    assert outcome.ok, outcome
    trace = Trace.objects.get(trace_id=tid)
    assert trace.segment_count == 2 and trace.status == "fault" and trace.cold_start
    q = Quarantine.objects.get(source="traces", reason="bad_segment")
    assert q.count == 1 and "not JSON" in q.samples[0]["detail"]
    assert _poll(fn).ok  # again: the complete trace is not fetched, nothing counted twice
    assert Quarantine.objects.get(source="traces", reason="bad_segment").count == 1


def test_orphans_skew_and_huge_traces_are_stored_with_their_notes(fn, settings):
    settings.TRACE_MAX_SUBSEGMENTS = 1000
    start = time.time() - 120
    tid, docs = huge_trace(fn_name=fn.name, fn_arn=fn.arn, start=start, subsegments=2500)
    seg = docs[0]
    seg["subsegments"].append({"name": "skewed", "id": "5ca1ab1e5ca1ab1e", "start_time": start - 1, "end_time": start + 0.001})
    orphan = {"name": "orphan", "id": "0badf00d0badf00d", "trace_id": tid, "parent_id": "ffffffffffffffff",
              "start_time": start + 0.001, "end_time": start + 0.002, "type": "subsegment"}
    put([seg, orphan])
    outcome = _poll(fn)
    assert outcome.ok, outcome
    trace = Trace.objects.get(trace_id=tid)
    notes = " ".join(trace.notes)
    assert "past the cap of 1,000" in notes and "not in the trace" in notes and "clock skew" in notes
    assert trace.subsegment_count == 998
    stored = sum(json.dumps(s.document).count('"DynamoDB"') for s in TraceSegment.objects.filter(trace=trace))
    assert stored == trace.downstream_calls == 996
    assert Quarantine.objects.get(source="traces", reason="trace_too_large").count == 1


def test_a_failing_endpoint_keeps_the_cursor_and_the_next_run_catches_up(fn, sandbox_server):
    start = time.time() - 120
    tid, docs, _ = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=start)
    put(docs)
    sandbox.add_fault(sandbox_server, service="xray", operation="BatchGetTraces", error="ThrottlingException", count=50)
    try:
        outcome = _poll(fn)
    finally:
        sandbox.clear_faults(sandbox_server)
    assert not Trace.objects.exists()
    status = PollStatus.objects.get(source="traces")
    assert status.cursor == {}  # not moved past the window it could not fetch
    assert outcome.ran
    assert _poll(fn).ok
    assert Trace.objects.filter(trace_id=tid).exists()
    assert PollStatus.objects.get(source="traces").cursor["until"] <= timezone.now().isoformat()
