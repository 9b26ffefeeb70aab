"""The traces poller: X-Ray summaries (sampled, worst first) → Trace, TraceSegment, TraceCall.

poll (the run), parse (one trace's documents → columns, calls and a bounded tree: pure), store
(one trace → rows, idempotently), cursor (up to when summaries were read).
"""

from ops.pollers.traces.poll import traces_poll

__all__ = ["traces_poll"]
