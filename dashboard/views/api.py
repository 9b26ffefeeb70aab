"""Read-only JSON API: the numbers the pages show, from the same selectors.

Auth, methods, errors and number encoding: dashboard/views/api_http.py. Parameters are
cleaned by dashboard/params.py (a bad one is a 400 naming it).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from dashboard import params
from dashboard.charts import deploy_label
from dashboard.views.api_http import api_view, json_error, json_response
from ops.models import Function
from ops.selectors.fleet import PAGE_SIZE, fleet_page
from ops.selectors.function import function_data, function_series_map
from ops.selectors.points import DERIVED_METRICS, function_metric_series
from ops.selectors.headroom import region_headroom
from ops.selectors.inventory import function_header
from ops.selectors.telemetry import ALL_COLUMNS, MAX_COLUMNS, SUM_COLUMNS, step_label
from ops.selectors.timerange import TimeRange
from ops.timefmt import iso_utc

# metric → (unit, how a bucket aggregates it)
UNITS = {
    "invocations": "count",
    "errors": "count",
    "throttles": "count",
    "cold_starts": "count",
    "duration_avg": "ms",
    "duration_max": "ms",
    "duration_p50": "ms",
    "duration_p90": "ms",
    "duration_p99": "ms",
    "init_duration_sum": "ms",
    "init_duration_max": "ms",
    "billed_duration_sum": "ms",
    "iterator_age_max": "ms",
    "async_event_age_max": "ms",
    "billed_gb_s": "GB-s",
    "memory_used_max_mb": "MB",
    "memory_size_mb": "MB",
    "concurrency_max": "executions",
    "pc_utilization_max": "fraction",
    "error_rate": "%",
    "cost": "USD",
}


def _range_json(tr: TimeRange) -> dict:
    return {"key": tr.key, "start": iso_utc(tr.start), "end": iso_utc(tr.end), "label": tr.label}


def _function_or_404(pk: int) -> Function:
    try:
        return function_header(pk=pk)
    except Function.DoesNotExist:
        raise Http404(f"no function {pk}") from None


def _now_json(state) -> dict | None:
    """The now state (ops.selectors.now): the verdict on the last known minutes, whatever the range."""
    if state is None:
        return None
    rec, ep = state.record, state.episode
    return {
        "known_until": iso_utc(state.known_until),
        "window_start": iso_utc(state.window_start),
        "on_fire": state.on_fire,
        "invocations": rec.invocations,
        "errors": rec.errors,
        "error_rate_pct": rec.error_rate,
        "throttles": rec.throttles,
        "reasons": [{"level": lvl, "text": text} for lvl, text in state.reasons],
        "signal": ep.signal.key if ep else None,
        "since": iso_utc(state.since),
        "since_before_lookback": bool(ep and ep.before_lookback),
        "chronic": state.chronic,
        "baseline_error_rate_pct": state.baseline_rate,
        "deploy": (
            {"at": iso_utc(state.deploy.at), "alias": state.deploy.alias.name, "to_version": state.deploy.to_version}
            if state.deploy
            else None
        ),
        "minutes_after_deploy": state.minutes_after_deploy,
    }


@api_view
def fleet(request: HttpRequest) -> JsonResponse:
    q = request.GET
    tr = params.time_range(q, default="24h")
    page = fleet_page(
        time_range=tr,
        filters=params.function_filters(q),
        sort=params.fleet_sort(q),
        page=params.page(q),
        per_page=params.per_page(q, default=PAGE_SIZE),
    )

    def row(r) -> dict:
        return {
            "id": r.id,
            "name": r.name,
            "account": r.account,
            "region": r.region,
            "runtime": r.runtime,
            "invocations": r.invocations,
            "errors": r.errors,
            "error_rate_pct": r.error_rate,
            "throttles": r.throttles,
            "duration_p99_ms": r.duration_p99,
            "timeout_s": r.timeout_s,
            "p99_of_timeout_pct": r.p99_pct,
            "cold_start_pct": r.cold_pct,
            "concurrency_max": r.concurrency_max,
            "concurrency_limit": r.concurrency_limit,
            "dlq_depth": r.dlq_depth,
            "dlq_growth": r.dlq_growth,
            "cost_usd": round(r.cost_usd, 6),
            "on_fire": r.on_fire,
        }

    return json_response(
        {
            "range": _range_json(tr),
            "data_as_of": iso_utc(page.as_of),
            "sort": page.sort,
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
            "functions": [row(r) for r in page.rows],
            "on_fire": [
                row(r)
                | {
                    "reasons": [{"level": lvl, "text": text} for lvl, text in r.reasons],
                    "since": iso_utc(r.since),
                    "chronic": r.chronic,
                    "now": _now_json(r.now),
                    "baseline_error_rate_pct": r.baseline_rate,
                    "deploy": (
                        {"at": iso_utc(r.deploy.at), "alias": r.deploy.alias.name, "to_version": r.deploy.to_version}
                        if r.deploy
                        else None
                    ),
                }
                for r in page.fire
            ],
            "region_headroom": [
                {
                    "account": h.account,
                    "region": h.region,
                    "claimed_peak": h.claimed_peak,
                    "claimed_latest": h.claimed_latest,
                    "limit": h.limit,
                }
                for h in region_headroom(time_range=tr)
            ],
        }
    )


@api_view
def function_summary(request: HttpRequest, pk: int) -> JsonResponse:
    fn = _function_or_404(pk)
    tr = params.time_range(request.GET, default="6h")
    fd = function_data(function=fn, time_range=tr)
    t, wc, rs = fd.totals, fd.what_changed, fd.rightsizing

    def totals(x) -> dict:
        return {
            "invocations": x.invocations,
            "errors": x.errors,
            "error_rate_pct": x.error_rate,
            "throttles": x.throttles,
            "duration_p99_ms": x.duration_p99,
            "cold_starts": x.cold_starts,
            "cold_start_pct": x.cold_pct,
            "cost_usd": round(x.cost_usd, 6),
        }

    body = {
        "range": _range_json(tr),
        "function": {
            "id": fn.pk,
            "name": fn.name,
            "arn": fn.arn,
            "account": fn.account.name,
            "account_id": fn.account.account_id,
            "region": fn.region,
            "runtime": fn.runtime,
            "architecture": fn.architecture,
            "memory_mb": fn.memory_mb,
            "timeout_s": fn.timeout_s,
            "reserved_concurrency": fn.reserved_concurrency,
            "provisioned_concurrency": fn.provisioned_concurrency,
            "aliases": [{"name": a.name, "routing": [{"version": v, "weight": w} for v, w in a.routing]} for a in fn.aliases.all()],
            "console_url": fn.console_url,
        },
        "polled": not fd.not_polled,
        "data_as_of": iso_utc(fd.as_of),
        "now": _now_json(fd.now),
        "problems": [{"source": s.source, "state": s.state, "since": iso_utc(s.since), "reason": s.reason,
                      "code": s.last_error_code, "message": s.last_error_message} for s in fd.problems],
        "totals": totals(t)
        | {
            "concurrency_max": t.concurrency_max,
            "cost_estimated": t.cost_estimated,
            "incomplete": t.incomplete,
            "known_until": iso_utc(t.known_until),
        },
        "versions": [{"version": v.version} | totals(v.totals) for v in fd.versions],
        "what_changed": {
            "errors_since": iso_utc(wc.since),
            "throughout_range": wc.throughout,
            "baseline_error_rate_pct": wc.baseline_rate,
            "deploy": (
                {
                    "at": iso_utc(wc.deploy.at),
                    "alias": wc.deploy.alias.name,
                    "from_version": wc.deploy.from_version,
                    "to_version": wc.deploy.to_version,
                    "by": wc.deploy.actor_name,
                    "tool": wc.deploy.tool,
                    "dated_by": wc.deploy.dated_by,
                }
                if wc.deploy
                else None
            ),
            "minutes_after_deploy": wc.minutes_after_deploy,
            "compared": [{"version": v.version, "error_rate_pct": v.totals.error_rate} for v in wc.compared],
        },
        "deploys": [
            {
                "at": iso_utc(d.at),
                "alias": d.alias.name,
                "from_version": d.from_version,
                "to_version": d.to_version,
                "to_weights": d.to_weights,
                "source": d.source,
                "by": d.actor_name,
                "tool": d.tool,
                "dated_by": d.dated_by,
                "label": deploy_label(d),
            }
            for d in fd.deploys
        ],
        "error_groups": [
            {
                "error_type": g.error_type,
                "message": g.message,
                "count_in_range": g.in_range,
                "first_seen": iso_utc(g.first_seen),
                "last_seen": iso_utc(g.last_seen),
                "samples": g.samples[:5],
            }
            for g in fd.error_groups
        ],
        "rightsizing": (
            {
                "window_days": 7,
                "memory_used_max_mb": rs.used_max_mb,
                "configured_mb": rs.configured_mb,
                "suggested_mb": rs.suggested_mb,
                "monthly_compute_usd": round(rs.monthly_now_usd, 4),
                "monthly_saving_usd": round(rs.monthly_saving_usd, 4),
                "verdict": rs.verdict.value,
                "used_pct": round(rs.used_pct, 2),
                "out_of_memory_errors": rs.oom_errors,
                "monthly_compute_at_suggested_usd": round(rs.monthly_at_suggested_usd, 4),
                "monthly_extra_usd": round(rs.monthly_extra_usd, 4),
            }
            if rs
            else None
        ),
    }
    return json_response(body)


@api_view
def function_series(request: HttpRequest, pk: int) -> JsonResponse:
    fn = _function_or_404(pk)
    metric = params.text(request.GET, "metric", max_length=64)
    if metric not in ALL_COLUMNS and metric not in DERIVED_METRICS:
        choices = ", ".join(sorted(set(ALL_COLUMNS) | set(DERIVED_METRICS)))
        problem = "must be one of" if metric else "is required; one of"
        return json_error(400, f"metric: {problem} {choices}", param="metric")
    tr = params.time_range(request.GET, default="6h")
    fn_series, _ = function_series_map(function=fn)
    if fn_series is None:
        return json_response({"range": _range_json(tr), "metric": metric, "polled": False, "points": []})
    data = function_metric_series(function=fn, series=fn_series, metric=metric, time_range=tr)
    if metric == "error_rate":
        aggregation = "errors / invocations within the bucket"
    elif metric == "cost" or metric in SUM_COLUMNS:
        aggregation = "sum per bucket"
    elif metric in MAX_COLUMNS:
        aggregation = "max of the stored 1-minute values within the bucket"
    else:
        aggregation = "invocation-weighted mean within the bucket"
    return json_response(
        {
            "range": _range_json(tr),
            "metric": metric,
            "unit": UNITS.get(metric, "count"),
            "aggregation": aggregation,
            "step_s": data.step_s,
            "step": step_label(data.step_s),
            "polled": True,
            "points": [[iso_utc(t), v] for t, v in zip(data.ts, data.values)],
        }
    )
