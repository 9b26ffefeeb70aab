"""The cost rule: which columns make a function's GB-seconds, once, for Python and for SQL.

Billed GB-s come from REPORT lines (Billed Duration × memory, summed by the logs poller; since
August 2025 Billed Duration includes INIT for on-demand ZIP functions, so it is the truth).
Where a minute had invocations but no REPORT lines, CloudWatch's Duration average ×
invocations × configured memory stands in (an estimate: no per-invocation rounding, no INIT).
A bucket or total's GB-s = billed GB-s + those estimated milliseconds at the configured memory.

The formula is written once (``_gb_seconds``) over operands that are either floats or SQL
fragments (``Sql`` overloads the arithmetic), so the fleet query's ``cost_usd`` column and
the function page's, the charts' and the API's costs cannot drift apart. Prices come from
the cost model (``ops.costs.lambda_cost``), which is linear in requests and GB-s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.costs import lambda_cost

MS_PER_S = 1000.0
MB_PER_GB = 1024.0

# The per-range total of estimated milliseconds (``ops.selectors.telemetry`` aggregates it):
# Duration avg × invocations over the minutes without REPORT lines.
ESTIMATED_MS = "est_duration_ms"
ESTIMATE_INPUTS = ("duration_avg", "invocations", "reports")
# What a bucketed cost needs from ``series_buckets``.
BUCKET_COLUMNS = ("invocations", "billed_gb_s", "reports", "duration_avg")
# What a total's cost needs from ``series_totals``.
TOTAL_COLUMNS = ("invocations", "billed_gb_s", ESTIMATED_MS)


class Sql(str):
    """A SQL fragment that composes with + * / like a number (each step parenthesised, so the
    evaluation order is the Python one)."""

    def _op(self, op: str, other, swap: bool = False) -> "Sql":
        other = other if isinstance(other, Sql) else Sql(repr(float(other)))
        a, b = (other, self) if swap else (self, other)
        return Sql(f"({a} {op} {b})")

    def __add__(self, other):
        return self._op("+", other)

    def __radd__(self, other):
        return self._op("+", other, swap=True)

    def __mul__(self, other):
        return self._op("*", other)

    def __rmul__(self, other):
        return self._op("*", other, swap=True)

    def __truediv__(self, other):
        return self._op("/", other)


def _gb_seconds(billed_gb_s, estimated_ms, memory_mb):
    return billed_gb_s + estimated_ms / MS_PER_S * memory_mb / MB_PER_GB


def gb_seconds(*, memory_mb: float, billed_ms: float) -> float:
    """GB-s of ``billed_ms`` milliseconds at ``memory_mb``."""
    return _gb_seconds(0.0, billed_ms, memory_mb)


def total_gb_seconds(*, billed_gb_s: float | None, estimated_ms: float | None, memory_mb: float) -> float:
    return _gb_seconds(billed_gb_s or 0, estimated_ms or 0, memory_mb)


def bucket_estimated_ms(*, duration_avg: float | None, invocations: float | None, reports: float | None) -> float:
    """A bucket's estimated billed ms: Duration × invocations, only when no REPORT line came."""
    return 0 if reports else (duration_avg or 0) * (invocations or 0)


@dataclass(frozen=True)
class Cost:
    usd: float
    estimated_gb_s: float  # the part of the GB-s that Duration × memory stands in for

    @property
    def estimated(self) -> bool:
        return self.estimated_gb_s > 0


def cost_of(
    *, region: str, architecture: str, memory_mb: float, invocations: float | None, billed_gb_s: float | None,
    estimated_ms: float | None,
) -> Cost:
    """Requests + GB-s at the cost model's first-tier prices."""
    # billed + (estimate at the configured memory): the same float as _gb_seconds in one go
    estimated_gb_s = gb_seconds(memory_mb=memory_mb, billed_ms=estimated_ms or 0)
    gb_s = (billed_gb_s or 0) + estimated_gb_s
    usd = lambda_cost(region=region, architecture=architecture, requests=invocations or 0, gb_seconds=gb_s)
    return Cost(usd=usd, estimated_gb_s=estimated_gb_s)


def total_cost(*, region: str, architecture: str, memory_mb: float, totals: dict) -> Cost:
    """The cost of a range's totals (``series_totals`` with ``TOTAL_COLUMNS``)."""
    return cost_of(
        region=region,
        architecture=architecture,
        memory_mb=memory_mb,
        invocations=totals.get("invocations"),
        billed_gb_s=totals.get("billed_gb_s"),
        estimated_ms=totals.get(ESTIMATED_MS),
    )


def bucket_costs(data, *, region: str, architecture: str, memory_mb: int) -> list[float | None]:
    """USD per bucket of ``data`` (``series_buckets`` with ``BUCKET_COLUMNS``); None where the
    bucket is not known yet (the live edge)."""
    out: list[float | None] = []
    for i in range(len(data)):
        if data["invocations"][i] is None:
            out.append(None)
            continue
        est = bucket_estimated_ms(
            duration_avg=data["duration_avg"][i], invocations=data["invocations"][i], reports=data["reports"][i]
        )
        out.append(
            cost_of(
                region=region,
                architecture=architecture,
                memory_mb=memory_mb,
                invocations=data["invocations"][i],
                billed_gb_s=data["billed_gb_s"][i],
                estimated_ms=est,
            ).usd
        )
    return out


def estimated_ms_sum_sql(*, table: str) -> str:
    """The aggregate behind ``ESTIMATED_MS`` over rows of ``table`` (minute or roll-up rows)."""
    return f"coalesce(sum({table}.duration_avg * {table}.invocations) FILTER (WHERE {table}.reports = 0), 0)"


def cost_usd_sql(
    *, invocations: str, billed_gb_s: str, estimated_ms: str, memory_mb: str, request_usd: str, gb_second_usd: str
) -> str:
    """The cost rule over SQL columns, with unit prices from columns too (0 where nothing ran)."""
    gb_s = _gb_seconds(Sql(billed_gb_s), Sql(estimated_ms), Sql(memory_mb))
    return f"coalesce({invocations} * {request_usd} + {gb_s} * {gb_second_usd}, 0)"
