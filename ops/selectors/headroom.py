"""Headroom and data freshness: claimed concurrency against the account limit, poll state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ops.models import PollSource, PollStatus
from ops.pollers.health import PollHealth, poll_health
from ops.selectors.timerange import TimeRange

DEFAULT_ACCOUNT_CONCURRENCY = 1000


def account_concurrency_limit() -> int:
    return int(getattr(settings, "ACCOUNT_CONCURRENCY_LIMIT", DEFAULT_ACCOUNT_CONCURRENCY))


@dataclass(frozen=True)
class RegionHeadroom:
    account: str
    region: str
    claimed_latest: float | None
    claimed_peak: float | None
    limit: int
    at: datetime | None

    @property
    def peak_pct(self) -> float | None:
        return None if self.claimed_peak is None else 100.0 * self.claimed_peak / self.limit


def region_headroom(*, time_range: TimeRange) -> list[RegionHeadroom]:
    """Claimed concurrency per account×region: latest value and peak in range vs the limit (1 query)."""
    limit = account_concurrency_limit()
    # Driven by the configured account×regions so that each read is a range scan on the
    # (account, region, ts) key rather than a scan of every region's minutes.
    sql = """
SELECT a.name, r.region, l.ts, p.peak, l.latest
FROM ops_account a
CROSS JOIN unnest(a.regions) AS r(region)
CROSS JOIN LATERAL (
  SELECT max(coalesce(claimed_concurrency_max, concurrency_max)) AS peak FROM ops_regionstat
  WHERE account_id = a.id AND region = r.region AND ts >= %(start)s AND ts < %(end)s
) p
CROSS JOIN LATERAL (
  -- the newest minute with a concurrency value: the detection trigger's aggregates give every
  -- minute read a row, quiet ones (and the newest, not yet published) without concurrency
  SELECT ts, coalesce(claimed_concurrency_max, concurrency_max) AS latest FROM ops_regionstat
  WHERE account_id = a.id AND region = r.region AND ts >= %(start)s AND ts < %(end)s
    AND coalesce(claimed_concurrency_max, concurrency_max) IS NOT NULL
  ORDER BY ts DESC LIMIT 1
) l
WHERE a.enabled
ORDER BY a.name, r.region
"""
    with connection.cursor() as cur:
        cur.execute(sql, {"start": time_range.start, "end": time_range.end})
        return [
            RegionHeadroom(account=name, region=region, claimed_latest=_f(latest), claimed_peak=_f(peak), limit=limit, at=ts)
            for name, region, ts, peak, latest in cur.fetchall()
        ]


@dataclass(frozen=True)
class MetricsPollState:
    """Why numbers may be missing: metrics never polled, or polls failing (with AWS's code)."""

    never_polled: bool
    failing: list[PollHealth]
    last_success: datetime | None


def metrics_poll_state(*, now: datetime | None = None) -> MetricsPollState:
    now = now or timezone.now()
    statuses = list(PollStatus.objects.filter(source=PollSource.METRICS).select_related("account"))
    successes = [s.last_success_at for s in statuses if s.last_success_at]
    failing = [h for h in (poll_health(s, now=now) for s in statuses) if h.problem]
    return MetricsPollState(never_polled=not successes, failing=failing, last_success=max(successes, default=None))


def _f(value) -> float | None:
    return float(value) if value is not None else None
