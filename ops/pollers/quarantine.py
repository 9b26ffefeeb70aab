"""Setting one bad item aside so that the rest of its scope is stored (ops.models.Quarantine).

A poller that meets an item it cannot parse or store (a log line, a function AWS would not
have accepted) hands it here with its reason and moves on. Per scope × source × reason one row
keeps a count of distinct items, the newest MAX_SAMPLES samples (truncated to SAMPLE_CHARS and
sanitised, so the sample itself can always be stored) and the keys of the MAX_KEYS newest
items (by the item's own time): the logs poller re-reads a trailing lookback every run, and a
key already seen is not counted again. Once more items than that have been counted, an item no
newer than the oldest key kept is taken as one counted before (its key fell out of the memory),
so an error storm re-read never counts twice; the price is that a line arriving later than the
MAX_KEYS newest bad lines of its scope goes uncounted.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ops.models import Quarantine
from ops.pollers.base import PollContext

MAX_SAMPLES = 5
SAMPLE_CHARS = 500
MAX_KEYS = 500
# PostgreSQL text refuses NUL; UTF-8 has no encoding for a lone surrogate (a str can hold one
# after JSON decoding "\ud800").
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def sanitise(text: str) -> str:
    """``text`` without NUL and unpaired surrogates (the only characters the database refuses)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


def sample_of(raw: str) -> str:
    """A bounded, storable, readable sample of raw input."""
    head = sanitise(raw[: SAMPLE_CHARS * 2])[:SAMPLE_CHARS]
    return head + (f"… ({len(raw):,} characters)" if len(raw) > SAMPLE_CHARS else "")


@dataclass(frozen=True)
class Item:
    reason: str
    key: str  # identifies the item across runs: a log event id, a function ARN
    where: str  # log group and stream, or the resource's ARN
    detail: str  # why, in a few words
    raw: str  # the input as it came (sampled on write)
    at: datetime | None = None


def _short(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _entry(at: datetime, key: str) -> str:
    # "<epoch ms>:<hash>": sorts the memory by item time. Entries written before times were kept
    # are a bare hash and read as the oldest.
    return f"{int(at.timestamp() * 1000)}:{_short(key)}"


def _entry_ms(entry: str) -> int:
    ms, sep, _ = entry.partition(":")
    return int(ms) if sep else 0


def quarantine_add(ctx: PollContext, items: Iterable[Item]) -> int:
    """Tally ``items`` for ctx's scope and source; returns how many were new. One short
    transaction per reason (a row lock on the tally), independent of the poller's own writes."""
    by_reason: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_reason[str(item.reason)].append(item)
    new_total = 0
    now = timezone.now()
    for reason, group in by_reason.items():
        with transaction.atomic():
            row, _ = Quarantine.objects.select_for_update().get_or_create(
                source=ctx.status.source,
                account=ctx.account,
                region=ctx.region,
                reason=reason,
                defaults={"first_seen": now, "last_seen": now},
            )
            keys = list(row.recent_keys or [])
            seen = {entry.rpartition(":")[2] for entry in keys}
            # Keys have fallen out of the memory: anything no newer than the oldest kept was counted.
            forgot_until = min(map(_entry_ms, keys)) if keys and row.count > len(keys) else None
            fresh = []
            for item in group:
                k = _short(item.key)
                entry = _entry(item.at or now, item.key)
                if k in seen or (forgot_until is not None and _entry_ms(entry) <= forgot_until):
                    continue
                seen.add(k)
                keys.append(entry)
                fresh.append(item)
            samples = [
                {
                    "at": (item.at or now).isoformat(),
                    "key": _short(item.key),
                    "where": sanitise(item.where)[:300],
                    "detail": sanitise(item.detail)[:300],
                    "raw": sample_of(item.raw),
                }
                for item in reversed(fresh[-MAX_SAMPLES:])
            ]
            row.count += len(fresh)
            row.last_seen = now
            row.samples = (samples + list(row.samples or []))[:MAX_SAMPLES]
            row.recent_keys = sorted(keys, key=_entry_ms)[-MAX_KEYS:]
            row.save(update_fields=["count", "last_seen", "samples", "recent_keys"])
        new_total += len(fresh)
        if fresh:
            ctx.warn(f"{len(fresh)} item(s) quarantined ({reason}): e.g. {fresh[-1].detail} in {fresh[-1].where}")
    return new_total
