"""Write a generated telemetry batch straight into moto's backends (in-process, fast).

A batch is a plain dict so it can also arrive over HTTP (``POST /_sandbox/ingest``)::

    {"metrics": {"acct|region": [[namespace, name, dims, minute, "s"|"v", payload], ...]},
     "logs":    {"acct|region": {group: {stream: [[ts_ms, message], ...]}}},
     "traces":  {"acct|region": [segment_document (dict or JSON string), ...]},
     "sqs":     {"acct|region": {queue_name: [[body, message_attributes, sent_at_epoch], ...]}},
     "sqs_metrics": {"acct|region": [[queue_name, minute], ...]},   # sample depth/age at minute end
     "ledger":  [{"account":..., "region":..., "function":..., "minute":..., "version":..., counts...}]}

Binary message-attribute values travel as ``{"__b64": "..."}`` over HTTP.
"""

from __future__ import annotations

import base64
import gc
import json
import threading
import time
import uuid
from typing import Any

from . import state

_lock = threading.Lock()


def encode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        v = dict(v)
        if isinstance(v.get("BinaryValue"), (bytes, bytearray)):
            v["BinaryValue"] = {"__b64": base64.b64encode(v["BinaryValue"]).decode()}
        out[k] = v
    return out


def _decode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in (attrs or {}).items():
        v = dict(v)
        bv = v.get("BinaryValue")
        if isinstance(bv, dict) and "__b64" in bv:
            v["BinaryValue"] = base64.b64decode(bv["__b64"])
        out[k] = v
    return out


def _log_events(cls: Any, ingestion_ms: int, events: list) -> list:
    """LogEvent objects without moto's per-instance model registry (much faster, same fields)."""
    out = []
    first = cls._event_id
    for i, (ts, msg) in enumerate(events):
        ev = object.__new__(cls)
        ev.ingestion_time = ingestion_ms
        ev.timestamp = int(ts)
        ev.message = msg
        ev.event_id = first + i
        out.append(ev)
    cls._event_id = first + len(events)
    return out


def _send(backend: Any, queue: Any, body: str, attrs: dict[str, Any], sent_at: float) -> None:
    """Enqueue like SendMessage, stamped with the simulated send time (SentTimestamp). Standard
    queues skip moto's per-send attribute recomputation, which walks every message in the queue
    (quadratic for a growing DLQ)."""
    if queue.fifo_queue:
        backend.send_message(queue.name, body, message_attributes=attrs or None, group_id="sandbox",
                             deduplication_id=uuid.uuid4().hex)
        return
    from moto.sqs.models import Message

    message = Message(str(uuid.uuid4()), body)
    if attrs:
        message.message_attributes = attrs
    message.mark_sent()
    message.sent_timestamp = int(sent_at * 1000)
    queue.add_message(message)


def _apply_sqs(scope: str, queues: dict[str, list], metric_rows: list, counts: dict[str, int]) -> None:
    """Send failed-event messages and sample queue metrics minute by minute, in time order, so each
    minute's depth and oldest-message age are what they were at the end of that minute."""
    from moto.sqs.models import sqs_backends

    from .fills.metrics import store_for

    account, region = scope.split("|")
    backend = sqs_backends[account][region]
    store = store_for(account, region)
    oldest: dict[str, float] = backend.__dict__.setdefault("sandbox_oldest", {})
    timeline: dict[int, dict[str, list]] = {}
    for qname, messages in queues.items():
        for body, attrs, ts in messages:
            timeline.setdefault(int(ts) // 60 * 60, {}).setdefault(qname, []).append((ts, body, attrs))
    sampled: dict[int, list[str]] = {}
    for qname, minute in metric_rows:
        sampled.setdefault(int(minute) // 60 * 60, []).append(qname)
    for minute in sorted(set(timeline) | set(sampled)):
        sent: dict[str, int] = {}
        for qname, msgs in timeline.get(minute, {}).items():
            queue = backend.get_queue(qname)
            for ts, body, attrs in sorted(msgs, key=lambda m: m[0]):
                _send(backend, queue, body, _decode_attrs(attrs), ts)
                oldest.setdefault(qname, ts)
            sent[qname] = len(msgs)
            counts["messages"] += len(msgs)
        for qname in dict.fromkeys(sampled.get(minute, [])):
            try:
                queue = backend.get_queue(qname)
            except Exception:
                continue
            now_ms = time.time() * 1000  # moto's Message.visible/.delayed, without a clock read per message
            depth = sum(1 for msg in list(queue._messages) if msg.visible_at < now_ms and msg.delayed_until <= now_ms)
            if depth == 0:
                oldest.pop(qname, None)
            age = max(0.0, minute + 60 - oldest[qname]) if qname in oldest else 0.0
            dims = {"QueueName": qname}
            store.get_or_create("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims).add_values(minute, [float(depth)], None)
            store.get_or_create("AWS/SQS", "ApproximateAgeOfOldestMessage", dims).add_values(minute, [round(age)], None)
            n = float(sent.get(qname, 0))
            store.get_or_create("AWS/SQS", "NumberOfMessagesSent", dims).add_stats(minute, 1.0, n, n, n)


def apply_batch(batch: dict[str, Any]) -> dict[str, int]:
    from moto.core.utils import utcnow
    from moto.logs.models import LogEvent, LogStream, logs_backends
    from moto.xray.models import TraceSegment, xray_backends

    from .fills.metrics import store_for

    counts = {"metrics": 0, "log_events": 0, "segments": 0, "messages": 0}
    with _lock:
        for scope, rows in (batch.get("metrics") or {}).items():
            account, region = scope.split("|")
            store = store_for(account, region)
            cache: dict[tuple, Any] = {}
            for ns, name, dims, minute, kind, payload in rows:
                ck = (ns, name, tuple(sorted(dims.items())))
                series = cache.get(ck)
                if series is None:
                    series = cache[ck] = store.get_or_create(ns, name, dims)
                m = int(minute) // 60 * 60
                if kind == "s":
                    series.add_stats(m, *payload)
                else:
                    series.add_values(m, payload[0], payload[1])
                counts["metrics"] += 1

        now_ms = int(time.time() * 1000)
        for scope, groups in (batch.get("logs") or {}).items():
            account, region = scope.split("|")
            backend = logs_backends[account][region]
            for group_name, streams in groups.items():
                group = backend.groups.get(group_name)
                if group is None:
                    group = backend.create_log_group(group_name, {})
                for stream_name, events in streams.items():
                    stream = group.streams.get(stream_name)
                    if stream is None:
                        # copy-on-write: moto's readers iterate group.streams without a lock
                        stream = LogStream(log_group=group, name=stream_name)
                        group.streams = {**group.streams, stream_name: stream}
                    new = _log_events(LogEvent, now_ms, events)
                    if stream.events and new and new[0].timestamp < stream.events[-1].timestamp:
                        stream.events = sorted(stream.events + new, key=lambda e: e.timestamp)
                    else:
                        stream.events.extend(new)
                    stream.stored_bytes += sum(len(m) for _t, m in events)
                    stream.last_ingestion_time = utcnow()
                    counts["log_events"] += len(new)

        for scope, docs in (batch.get("traces") or {}).items():
            account, region = scope.split("|")
            backend = xray_backends[account][region]
            for doc in docs:
                if isinstance(doc, str):
                    backend.process_segment(doc)
                else:  # already a dict: skip the JSON round trip
                    seg = TraceSegment.from_dict(dict(doc), raw=json.dumps(doc))
                    backend._segment_collection.put_segment(seg)
                counts["segments"] += 1

        for scope in set(batch.get("sqs") or {}) | set(batch.get("sqs_metrics") or {}):
            _apply_sqs(scope, (batch.get("sqs") or {}).get(scope) or {},
                       (batch.get("sqs_metrics") or {}).get(scope) or [], counts)

    state.LEDGER.add_rows(batch.get("ledger") or [])
    gc.freeze()  # written telemetry lives as long as the server: keep it out of cyclic GC passes
    return counts
