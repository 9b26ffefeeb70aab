"""Traces past TRACE_RETENTION_DAYS go with their segments and calls; newer ones stay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import Trace, TraceCall, TraceSegment
from ops.pollers import rollup
from ops.pollers.traces.parse import trace_parse
from ops.pollers.traces.store import trace_store
from tests.factories import FunctionFactory
from tests.ops.pollers.traces.builders import known_trace

pytestmark = pytest.mark.django_db(transaction=True)


def test_retention_deletes_old_traces_children_first(settings):
    settings.TRACE_RETENTION_DAYS = 7
    fn = FunctionFactory(name="pay")
    now = timezone.now()
    for n, age in ((1, timedelta(days=8)), (2, timedelta(days=1))):
        tid, docs, _ = known_trace(fn_name=fn.name, fn_arn=fn.arn, start=(now - age).timestamp(), n=n)
        parsed, _ = trace_parse(tid, [(d["id"], json.dumps(d)) for d in docs], max_nodes=100)
        assert trace_store(parsed=parsed, function=fn, fetched_at=now) is None
    out = rollup.retention_apply(now=now)
    assert (out["ops_trace"], out["ops_tracesegment"], out["ops_tracecall"]) == (1, 2, 2)
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [known_trace(fn_name="pay", fn_arn=fn.arn, start=(now - timedelta(days=1)).timestamp(), n=2)[0]]
    assert TraceSegment.objects.count() == 2 and TraceCall.objects.count() == 2
