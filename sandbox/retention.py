"""Drop generated telemetry older than a cutoff so a long-running demo keeps a bounded footprint."""

from __future__ import annotations

from typing import Any

from . import state
from .fills.metrics import _STORE_ATTR
from .ingest import _lock


def _backends(backend_dict: Any):
    for _account, regions in list(backend_dict.items()):
        for _region, backend in list(regions.items()):
            yield backend


def prune(before: float) -> dict[str, int]:
    """Remove metric buckets, Lambda log events, traces, ledger rows and CloudTrail events older than ``before`` (epoch s)."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.logs.models import logs_backends
    from moto.xray.models import xray_backends

    from .fills.cloudtrail import TRAIL

    dropped = {"buckets": 0, "log_events": 0, "traces": 0, "ledger_rows": 0}
    cutoff_ms = int(before * 1000)
    with _lock:
        for backend in _backends(cloudwatch_backends):
            store = getattr(backend, _STORE_ATTR, None)
            if store is None:
                continue
            for series in list(store.series.values()):
                old = [m for m in list(series.buckets) if m < before]
                if old:
                    series.buckets = {m: b for m, b in series.buckets.items() if m >= before}
                    dropped["buckets"] += len(old)
        for backend in _backends(logs_backends):
            for name, group in list(backend.groups.items()):
                if not name.startswith("/aws/lambda/"):
                    continue
                keep = {}
                for sname, stream in list(group.streams.items()):
                    if stream.events and stream.events[0].timestamp < cutoff_ms:
                        kept = [e for e in stream.events if e.timestamp >= cutoff_ms]
                        dropped["log_events"] += len(stream.events) - len(kept)
                        stream.events = kept
                    if stream.events:
                        keep[sname] = stream
                group.streams = keep
        for backend in _backends(xray_backends):
            coll = backend._segment_collection
            old_ids = [tid for tid, t in list(coll._traces.items())
                       if t["segments"] and (t["segments"][-1].end_time or 0) < before]
            cache = coll.__dict__.get("sandbox_summaries", {})
            for tid in old_ids:
                coll._traces.pop(tid, None)
                cache.pop(tid, None)
            dropped["traces"] += len(old_ids)
        with state.LEDGER._lock:
            old_keys = [k for k in state.LEDGER.rows if k[3] < before]
            for k in old_keys:
                del state.LEDGER.rows[k]
            dropped["ledger_rows"] = len(old_keys)
    dropped["cloudtrail_events"] = TRAIL.prune(before)
    return dropped
