"""The fleet overview's rows: what one function's line holds (its range totals and its now
state), the page around them, and the SQL pieces the fleet statement is built from (inventory
filters, unit prices)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ops.costs import lambda_cost
from ops.models import Function
from ops.rules.evaluate import Record
from ops.selectors.inventory import FunctionFilters
from ops.selectors.now import NowState, data_age_s
from ops.selectors.telemetry import SeriesData


@dataclass
class FleetRow:
    id: int
    name: str
    account: str
    region: str
    runtime: str
    architecture: str
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None
    series_id: int | None
    invocations: float
    errors: float
    throttles: float
    async_events_dropped: float
    cold_starts: float
    duration_p99: float | None  # ms, max of the stored per-minute p99 in the range
    concurrency_max: float | None
    iterator_age_max: float | None  # ms
    dlq_depth: float | None  # latest visible messages summed over the function's DLQs
    dlq_growth: float | None  # how much that depth grew since the range began
    error_rate: float | None  # %
    p99_pct: float | None  # p99 as % of the timeout
    cold_pct: float | None  # % of invocations (REPORT lines) that were cold starts
    concurrency_limit: int
    concurrency_pct: float | None
    cost_usd: float
    on_fire: bool  # the now state's verdict (the fleet SQL's), not the range's
    known_until: datetime | None = None
    now_record: Record | None = None  # the now window's numbers
    now: NowState | None = None  # fire rows: reasons, onset, chronic, deploy
    trend: SeriesData | None = None
    spark: dict | None = None

    @property
    def reasons(self) -> list[tuple[str, str]]:  # (level, text)
        return self.now.reasons if self.now else []

    @property
    def since(self):
        return self.now.since if self.now else None

    @property
    def since_today(self) -> bool:
        """Whether "since" needs no date (it is today, UTC)."""
        return self.since is None or self.since.date() == timezone.now().date()

    @property
    def chronic(self) -> bool:
        return bool(self.now and self.now.chronic)

    @property
    def baseline_rate(self) -> float | None:
        return self.now.baseline_rate if self.now else None

    @property
    def deploy(self):
        return self.now.deploy if self.now else None

    @property
    def minutes_after_deploy(self) -> int | None:
        return self.now.minutes_after_deploy if self.now else None

    @property
    def level(self) -> str:
        levels = {lvl for lvl, _ in self.reasons}
        return "bad" if "bad" in levels else ("warn" if "warn" in levels else "ok")


@dataclass
class FleetPage:
    rows: list[FleetRow]
    fire: list[FleetRow]
    total: int
    page: int
    per_page: int
    sort: str
    as_of: datetime | None = None  # the newest known minute's end over the listed functions

    @property
    def as_of_age_s(self) -> float | None:
        return data_age_s(self.as_of)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def start_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def end_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _filter_sql(filters: FunctionFilters) -> tuple[str, dict]:
    where, params = [], {}
    if not filters.include_gone:
        where.append("f.gone_at IS NULL")
    if filters.q:
        where.append("f.name ILIKE %(q)s")
        params["q"] = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    if filters.account:
        where.append("a.name = %(account)s")
        params["account"] = filters.account
    if filters.region:
        where.append("f.region = %(region)s")
        params["region"] = filters.region
    if filters.runtime:
        where.append("f.runtime = %(runtime)s")
        params["runtime"] = filters.runtime
    if filters.tag:
        key, sep, value = filters.tag.partition("=")
        if sep:
            where.append("f.tags @> jsonb_build_object(%(tag_key)s::text, %(tag_value)s::text)")
            params |= {"tag_key": key, "tag_value": value}
        else:
            where.append("f.tags ? %(tag_key)s")
            params["tag_key"] = key
    return (" AND ".join(where) or "TRUE"), params


def _price_values() -> tuple[str, dict]:
    """Unit prices per (region, architecture) present in the inventory, from the cost model.
    ``lambda_cost`` is linear in requests and GB-seconds, so two calls give both unit prices."""
    pairs = sorted(set(Function.objects.values_list("region", "architecture").distinct()))
    if not pairs:
        return "SELECT NULL::text AS region, NULL::text AS arch, 0::float AS req, 0::float AS gbs", {}
    rows, params = [], {}
    for i, (region, arch) in enumerate(pairs):
        params |= {
            f"pr{i}": region,
            f"pa{i}": arch,
            f"pq{i}": lambda_cost(region=region, architecture=arch, requests=1, gb_seconds=0),
            f"pg{i}": lambda_cost(region=region, architecture=arch, requests=0, gb_seconds=1),
        }
        rows.append(f"(%(pr{i})s::text, %(pa{i})s::text, %(pq{i})s::float, %(pg{i})s::float)")
    return "SELECT * FROM (VALUES " + ", ".join(rows) + ") AS p(region, arch, req, gbs)", params


def _f(value) -> float | None:
    return float(value) if value is not None else None


def _row(rec: dict) -> FleetRow:
    return FleetRow(
        id=rec["id"],
        name=rec["name"],
        account=rec["account"],
        region=rec["region"],
        runtime=rec["runtime"],
        architecture=rec["architecture"],
        memory_mb=rec["memory_mb"],
        timeout_s=rec["timeout_s"],
        reserved_concurrency=rec["reserved_concurrency"],
        series_id=rec["sid"],
        invocations=float(rec["invocations"]),
        errors=float(rec["errors"]),
        throttles=float(rec["throttles"]),
        async_events_dropped=float(rec["async_events_dropped"]),
        cold_starts=float(rec["cold_starts"]),
        duration_p99=_f(rec["duration_p99"]),
        concurrency_max=_f(rec["concurrency_max"]),
        iterator_age_max=_f(rec["iterator_age_max"]),
        dlq_depth=_f(rec["dlq_depth"]),
        dlq_growth=_f(rec["dlq_growth"]),
        error_rate=_f(rec["error_rate"]),
        p99_pct=_f(rec["p99_pct"]),
        cold_pct=_f(rec["cold_pct"]),
        concurrency_limit=int(rec["concurrency_limit"]),
        concurrency_pct=_f(rec["concurrency_pct"]),
        cost_usd=float(rec["cost_usd"] or 0),
        on_fire=bool(rec["on_fire"]),
        known_until=rec["known_until"],
        now_record=_now_record(rec),
    )


def _now_record(rec: dict) -> Record | None:
    """The now window's record as the SQL computed it (float8 all through, so the Python rules
    judge exactly the numbers the SQL judged)."""
    now = rec.get("now")
    if isinstance(now, str):  # Django leaves jsonb as text for its own field to decode
        now = json.loads(now)
    if not now:
        return None
    return Record(
        **{k: (float(v) if v is not None else None) for k, v in now.items() if k in Record.__dataclass_fields__},
        timeout_s=rec["timeout_s"],
        concurrency_limit=int(rec["concurrency_limit"]),
        reserved_concurrency=rec["reserved_concurrency"],
    )
