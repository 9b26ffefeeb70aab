"""Counts every AWS API call the product makes, by service, operation, account and region.

The hook runs inside botocore for each attempt the product asks for (before retries), so the
count is what AWS bills. Counts accumulate in memory and are flushed by ``drain()``; the
telemetry code persists them and prices them (GetMetricData is billed per metric requested).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class CallKey:
    service: str
    operation: str
    account_id: str
    region: str


_lock = threading.Lock()
_calls: Counter[CallKey] = Counter()
_units: Counter[CallKey] = Counter()  # billable units beyond the call itself (metrics requested)
_extra: Counter[CallKey] = Counter()  # units only known after the call (Logs Insights bytes scanned)


def units_hook(model, params, context, **kwargs):
    """``before-parameter-build``: the API parameters are still a dict here (at ``before-call``
    they are already serialised), so the billable units are worked out now and handed on
    through the request context."""
    units = 0
    if model.name == "GetMetricData":
        units = len(params.get("MetricDataQueries", []) or [])
    elif model.name == "BatchGetTraces":
        units = len(params.get("TraceIds", []) or [])  # X-Ray bills traces retrieved
    context["lambda_ops_units"] = units


def before_call_hook(account_id: str, region: str):
    def hook(model, params, context=None, **kwargs):
        key = CallKey(model.service_model.service_name, model.name, account_id, region)
        units = (context or {}).get("lambda_ops_units", 0)
        with _lock:
            _calls[key] += 1
            if units:
                _units[key] += units

    return hook


def record_units(*, service: str, operation: str, account_id: str, region: str, units: float) -> None:
    """Add billable units learnt from a response (bytes scanned by a Logs Insights query)."""
    key = CallKey(service, operation, account_id, region)
    with _lock:
        _extra[key] += units


def drain() -> list[tuple[CallKey, int, int]]:
    """Return and reset [(key, calls, units)] counted since the last drain."""
    return [(k, n, u) for k, n, u, _ in drain_all()]


def drain_all() -> list[tuple[CallKey, int, int, float]]:
    """Return and reset [(key, calls, units, units learnt from responses)] since the last drain."""
    with _lock:
        keys = set(_calls) | set(_extra)
        rows = [(k, _calls.get(k, 0), _units.get(k, 0), float(_extra.get(k, 0))) for k in keys]
        _calls.clear()
        _units.clear()
        _extra.clear()
    return rows


def snapshot() -> dict[CallKey, int]:
    with _lock:
        return dict(_calls)
