"""CloudWatch metrics: an indexed in-memory store replacing moto's list scan.

Series are keyed by (namespace, metric name, frozenset of dimension items); each holds one
bucket per minute ``[count, sum, min, max, histogram]`` where the histogram maps a value to
how many samples had it (kept so percentiles come from raw samples). GetMetricData aligns
buckets to period boundaries, matches the dimension set exactly and respects the namespace;
the no-dimension series is a series of its own.

AWS/Lambda's account × region aggregates (no dimensions) are merged over the functions at
query time: see metrics_aggregate.py.
"""

from __future__ import annotations

import ast
import base64
import json
import math
import threading
from datetime import datetime, timezone
from typing import Any

from .metrics_aggregate import AGGREGATED, LAMBDA, merged_series
from .metrics_math import _eval_math
from .metrics_wire import encode_cbor, encode_json  # noqa: F401  (re-exported)

_STORE_ATTR = "_sandbox_metric_store"

_lock = threading.Lock()


def _epoch(value: Any) -> float:
    if value is None:
        return datetime.now(timezone.utc).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class Series:
    __slots__ = ("buckets", "unit")

    def __init__(self, unit: str | None = None) -> None:
        self.buckets: dict[int, list] = {}
        self.unit = unit

    def add_values(self, minute: int, values: list[float], counts: list[float] | None) -> None:
        b = self.buckets.get(minute)
        if b is None:
            b = self.buckets[minute] = [0.0, 0.0, math.inf, -math.inf, {}]
        hist = b[4]
        if hist is None:
            hist = b[4] = {}
        for i, v in enumerate(values):
            c = float(counts[i]) if counts else 1.0
            if c <= 0:
                continue
            v = float(v)
            b[0] += c
            b[1] += v * c
            if v < b[2]:
                b[2] = v
            if v > b[3]:
                b[3] = v
            hist[v] = hist.get(v, 0.0) + c

    def add_stats(self, minute: int, count: float, total: float, lo: float, hi: float) -> None:
        b = self.buckets.get(minute)
        if b is None:
            b = self.buckets[minute] = [0.0, 0.0, math.inf, -math.inf, None]
        b[0] += count
        b[1] += total
        b[2] = min(b[2], lo)
        b[3] = max(b[3], hi)


class MetricStore:
    def __init__(self) -> None:
        self.series: dict[tuple, Series] = {}
        # (namespace, metric) -> the FunctionName-only series of an AGGREGATED AWS/Lambda metric
        self.per_function: dict[tuple[str, str], list[Series]] = {}

    @staticmethod
    def key(namespace: str, name: str, dims: dict[str, str] | list | None) -> tuple:
        if isinstance(dims, list):
            dims = {d["Name"]: d["Value"] for d in dims}
        return (namespace, name, frozenset((dims or {}).items()))

    def get_or_create(self, namespace: str, name: str, dims: Any, unit: str | None = None) -> Series:
        k = self.key(namespace, name, dims)
        s = self.series.get(k)
        if s is None:
            s = self.series[k] = Series(unit)
            if namespace == LAMBDA and name in AGGREGATED and len(k[2]) == 1 and next(iter(k[2]))[0] == "FunctionName":
                self.per_function.setdefault((namespace, name), []).append(s)
        return s

    def lookup(self, namespace: str, name: str, dims: Any, start: float, end: float) -> Series | None:
        """The series a query names; for an AWS/Lambda aggregate (no dimensions), the merge of
        every function's series over [start, end) with the points written without dimensions."""
        k = self.key(namespace, name, dims)
        own = self.series.get(k)
        if k[2] or namespace != LAMBDA or name not in AGGREGATED:
            return own
        return merged_series(list(self.per_function.get((namespace, name), ())), own, start, end, Series)

    # -- writes ---------------------------------------------------------------
    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        with _lock:
            for m in metric_data:
                s = self.get_or_create(namespace, m["MetricName"], m.get("Dimensions") or [], m.get("Unit"))
                minute = int(_epoch(m.get("Timestamp")) // 60) * 60
                if m.get("Values"):
                    s.add_values(minute, m["Values"], m.get("Counts"))
                elif m.get("StatisticValues"):
                    sv = m["StatisticValues"]
                    s.add_stats(minute, float(sv["SampleCount"]), float(sv["Sum"]),
                                float(sv["Minimum"]), float(sv["Maximum"]))
                else:
                    s.add_values(minute, [float(m.get("Value", 0.0))], None)

    # -- reads ----------------------------------------------------------------
    def aggregate(self, series: Series, start: float, end: float, period: int) -> list[tuple[int, list]]:
        """Merge minute buckets into period buckets aligned to multiples of ``period``."""
        period = max(60, int(period))
        first = int(start // period) * period
        out: dict[int, list] = {}
        buckets = series.buckets
        n_minutes = int((end - first) // 60) + 1
        if len(buckets) < n_minutes:
            items = [(m, b) for m, b in list(buckets.items()) if first <= m < end]  # snapshot: writers run concurrently
        else:
            items = []
            m = int(first // 60) * 60
            while m < end:
                b = buckets.get(m)
                if b is not None:
                    items.append((m, b))
                m += 60
        for m, b in items:
            pb = (m // period) * period
            agg = out.get(pb)
            if agg is None:
                out[pb] = [b[0], b[1], b[2], b[3], [b[4]] if b[4] is not None else []]
            else:
                agg[0] += b[0]
                agg[1] += b[1]
                agg[2] = min(agg[2], b[2])
                agg[3] = max(agg[3], b[3])
                if b[4] is not None:
                    agg[4].append(b[4])
        return sorted(out.items())

    @staticmethod
    def stat_value(agg: list, stat: str) -> float | None:
        count, total, lo, hi, hists = agg
        if stat == "Sum":
            return total
        if stat == "SampleCount":
            return count
        if stat == "Average":
            return total / count if count else None
        if stat == "Minimum":
            return lo
        if stat == "Maximum":
            return hi
        if stat.startswith("p"):
            try:
                q = float(stat[1:])
            except ValueError:
                return None
            merged: dict[float, float] = {}
            for h in hists:
                for v, c in list(h.items()):  # snapshot: the current minute may be written now
                    merged[v] = merged.get(v, 0.0) + c
            n = sum(merged.values())
            if not n:
                return None
            rank = max(1.0, math.ceil(q / 100.0 * n))
            seen = 0.0
            for v in sorted(merged):
                seen += merged[v]
                if seen >= rank:
                    return v
            return max(merged)
        return None

    def query(self, namespace: str, name: str, dims: Any, start: float, end: float,
              period: int, stat: str, unit: str | None = None) -> tuple[list[int], list[float]]:
        s = self.lookup(namespace, name, dims, start, end)
        if s is None or (unit and s.unit and s.unit != unit):
            return [], []
        ts, vals = [], []
        for pb, agg in self.aggregate(s, start, end, period):
            v = self.stat_value(agg, stat)
            if v is not None:
                ts.append(pb)
                vals.append(v)
        return ts, vals

    def list_metrics(self, namespace: str | None, name: str | None, dim_filters: list[dict]) -> list[dict]:
        out = []
        for (ns, mn, dims), _s in list(self.series.items()):
            if namespace and ns != namespace:
                continue
            if name and mn != name:
                continue
            dd = dict(dims)
            ok = True
            for f in dim_filters or []:
                if f["Name"] not in dd or ("Value" in f and f["Value"] is not None and dd[f["Name"]] != f["Value"]):
                    ok = False
                    break
            if ok:
                out.append({"Namespace": ns, "MetricName": mn,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dd.items())]})
        out.sort(key=lambda m: (m["Namespace"], m["MetricName"], str(m["Dimensions"])))
        return out


def store_for(account_id: str, region: str) -> MetricStore:
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[account_id][region]
    store = getattr(backend, _STORE_ATTR, None)
    if store is None:
        with _lock:
            store = getattr(backend, _STORE_ATTR, None)
            if store is None:
                store = MetricStore()
                setattr(backend, _STORE_ATTR, store)
    return store


def _period_points(store: MetricStore, q: dict[str, Any], start: float, end: float) -> tuple[list[int], list[float]]:
    ms = q["MetricStat"]
    metric = ms["Metric"]
    period = int(ms["Period"])
    stat = ms["Stat"]
    s = store.lookup(metric.get("Namespace", ""), metric["MetricName"], metric.get("Dimensions") or [], start, end)
    unit = ms.get("Unit")
    if s is None or (unit and s.unit and s.unit != unit):
        return [], []
    if period == 60 and stat in ("Sum", "SampleCount", "Average", "Minimum", "Maximum"):
        # fast path: one minute bucket per point
        idx = {"SampleCount": 0, "Sum": 1, "Minimum": 2, "Maximum": 3}.get(stat)
        first = int(start // 60) * 60
        buckets = s.buckets
        if len(buckets) * 4 < (end - first) / 60:
            items = sorted((m, b) for m, b in list(buckets.items()) if first <= m < end)
        else:
            get = buckets.get
            items = [(m, b) for m in range(first, int(end), 60) if (b := get(m)) is not None]
        if idx is None:
            return [m for m, b in items if b[0]], [b[1] / b[0] for m, b in items if b[0]]
        return [m for m, _b in items], [b[idx] for _m, b in items]
    ts, vals = [], []
    for pb, agg in store.aggregate(s, start, end, period):
        v = store.stat_value(agg, stat)
        if v is not None:
            ts.append(pb)
            vals.append(v)
    return ts, vals


def get_metric_data_raw(store: MetricStore, params: dict[str, Any]) -> dict[str, Any]:
    """GetMetricData with epoch-second timestamps (serialised by the caller)."""
    from moto.cloudwatch.exceptions import ValidationError

    start = _epoch(params["StartTime"])
    end = _epoch(params["EndTime"])
    if start >= end:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    queries = params.get("MetricDataQueries") or []
    if len(queries) > 500:
        raise ValidationError("The collection MetricDataQueries must not have a size greater than 500.")
    for q in queries:
        if "MetricStat" not in q and "Expression" not in q:
            raise ValidationError("The parameter MetricDataQueries.member.1.MetricStat is required.\n")
    descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    max_points = int(params.get("MaxDatapoints") or 100800)
    by_id = {q["Id"]: q for q in queries}
    cache: dict[str, tuple[list[int], list[float]]] = {}

    def compute(qid: str) -> tuple[list[int], list[float]]:
        hit = cache.get(qid)
        if hit is None:
            q = by_id[qid]
            if "MetricStat" in q:
                hit = _period_points(store, q, start, end)
            else:
                try:
                    refs = {n.id for n in ast.walk(ast.parse(q["Expression"], mode="eval")) if isinstance(n, ast.Name)}
                    hit = _eval_math(q["Expression"], {r: dict(zip(*compute(r))) for r in refs if r in by_id and r != qid})
                except (ValueError, SyntaxError, KeyError, RecursionError):
                    hit = ([], [])
            cache[qid] = hit
        return hit

    returned = [q for q in queries if q.get("ReturnData", True) is not False]
    qi, pi = 0, 0
    if params.get("NextToken"):
        try:
            tok = json.loads(base64.b64decode(params["NextToken"]))
            qi, pi = int(tok["q"]), int(tok["p"])
        except Exception:
            raise ValidationError("Invalid NextToken")
    page: list[dict[str, Any]] = []
    budget = max_points
    next_token = None
    while qi < len(returned):
        q = returned[qi]
        ts, vals = compute(q["Id"])
        if descending:
            ts, vals = ts[::-1], vals[::-1]
        take, tvals = ts[pi:pi + budget], vals[pi:pi + budget]
        complete = pi + len(take) >= len(ts)
        label = q.get("Label") or (q["MetricStat"]["Metric"]["MetricName"] if "MetricStat" in q else q["Id"])
        page.append({"Id": q["Id"], "Label": label, "Timestamps": take, "Values": tvals,
                     "StatusCode": "Complete" if complete else "PartialData"})
        budget -= len(take)
        if complete:
            qi, pi = qi + 1, 0
        else:
            pi += len(take)
        if budget <= 0 and qi < len(returned):
            next_token = base64.b64encode(json.dumps({"q": qi, "p": pi}).encode()).decode()
            break
    out: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
    if next_token:
        out["NextToken"] = next_token
    return out


def get_metric_data(store: MetricStore, params: dict[str, Any]) -> dict[str, Any]:
    """GetMetricData with datetime timestamps (for in-process callers)."""
    out = get_metric_data_raw(store, params)
    for r in out["MetricDataResults"]:
        r["Timestamps"] = [datetime.fromtimestamp(t, timezone.utc) for t in r["Timestamps"]]
    return out


def get_metric_statistics(store: MetricStore, params: dict[str, Any]) -> dict[str, Any]:
    start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
    s = store.lookup(params["Namespace"], params["MetricName"], params.get("Dimensions") or [], start, end)
    points = []
    if s is not None:
        for pb, agg in store.aggregate(s, start, end, int(params["Period"])):
            dp: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(pb, timezone.utc),
                                  "Unit": s.unit or "None"}
            for st in params.get("Statistics") or []:
                v = store.stat_value(agg, st)
                if v is not None:
                    dp[st] = v
            ext = {}
            for st in params.get("ExtendedStatistics") or []:
                v = store.stat_value(agg, st)
                if v is not None:
                    ext[st] = v
            if ext:
                dp["ExtendedStatistics"] = ext
            points.append(dp)
    return {"Label": params["MetricName"], "Datapoints": points}


def install() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.cloudwatch.responses import CloudWatchResponse

    def _store(self: Any) -> MetricStore:
        return store_for(self.current_account, self.region)

    def put_metric_data(self: Any) -> Any:
        _store(self).put_metric_data(self._get_param("Namespace"), self._get_param("MetricData", []))
        return EmptyResult()

    def get_metric_data_resp(self: Any) -> Any:
        out = get_metric_data_raw(_store(self), self._get_params())
        ctype = self.headers.get("Content-Type", "") or ""
        if "cbor" in ctype or self.headers.get("smithy-protocol"):
            return 200, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, encode_cbor(out)
        if "json" in ctype:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, encode_json(out)
        for r in out["MetricDataResults"]:
            r["Timestamps"] = [datetime.fromtimestamp(t, timezone.utc) for t in r["Timestamps"]]
        return ActionResult(out)

    def get_metric_statistics_resp(self: Any) -> Any:
        return ActionResult(get_metric_statistics(_store(self), self._get_params()))

    def list_metrics(self: Any) -> Any:
        params = self._get_params()
        metrics = _store(self).list_metrics(params.get("Namespace"), params.get("MetricName"),
                                            params.get("Dimensions") or [])
        offset = int(params.get("NextToken") or 0)
        page = metrics[offset:offset + 500]
        result: dict[str, Any] = {"Metrics": page}
        if offset + 500 < len(metrics):
            result["NextToken"] = str(offset + 500)
        return ActionResult(result)

    CloudWatchResponse.put_metric_data = put_metric_data
    CloudWatchResponse.get_metric_data = get_metric_data_resp
    CloudWatchResponse.get_metric_statistics = get_metric_statistics_resp
    CloudWatchResponse.list_metrics = list_metrics
