"""AWS CloudTrail reads: Lambda's management events from LookupEvents.

Management events are free to look up, but LookupEvents allows 2 requests per second per
account and region and returns at most 50 events a page, newest first. Pages are paced here
(one run per scope at a time holds the poller's advisory lock, so a per-process pace per scope
is enough), and the caller bounds the pages per run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from ops.aws.client import Scope, call, client

LAMBDA_SOURCE = "lambda.amazonaws.com"
PAGE_SIZE = 50
MIN_INTERVAL_S = 0.5  # 2 TPS per account and region

_pace_lock = threading.Lock()
_last_call: dict[str, float] = {}


@dataclass(frozen=True)
class TrailEvent:
    """One LookupEvents entry. ``detail`` is the CloudTrailEvent record as AWS sends it (JSON
    text): reading it is the poller's job, because a malformed one must not lose the others."""

    event_id: str
    event_name: str
    event_time: datetime | None
    username: str
    resources: tuple[str, ...]
    detail: str


def _pace(scope: Scope) -> None:
    with _pace_lock:
        wait = _last_call.get(scope.key, 0.0) + MIN_INTERVAL_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _last_call[scope.key] = time.monotonic()


def _time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def lambda_events(scope: Scope, *, start: datetime, end: datetime, max_pages: int) -> Iterator[list[TrailEvent]]:
    """Lambda's management events in [start, end], one list per page (newest first).

    Stops after ``max_pages``; the caller tells a complete walk from a cut one by whether the
    generator ran out on its own (``StopIteration`` after a page without NextToken).
    """
    c = client("cloudtrail", scope)
    params = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": LAMBDA_SOURCE}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": PAGE_SIZE,
    }
    for _ in range(max_pages):
        _pace(scope)
        resp = call(c, "LookupEvents", **params)
        yield [
            TrailEvent(
                event_id=str(e.get("EventId") or ""),
                event_name=str(e.get("EventName") or ""),
                event_time=_time(e.get("EventTime")),
                username=str(e.get("Username") or ""),
                resources=tuple(str(r.get("ResourceName") or "") for r in e.get("Resources") or ()),
                detail=e.get("CloudTrailEvent") or "",
            )
            for e in resp.get("Events") or ()
        ]
        token = resp.get("NextToken")
        if not token:
            return
        params["NextToken"] = token
    raise PagesExhausted(max_pages)


class PagesExhausted(Exception):
    """More pages remained than a run may read."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"more than {pages} pages of CloudTrail events in the window")
        self.pages = pages
