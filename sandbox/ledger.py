"""Ground truth of what the traffic generator emitted, per function (and version) per minute."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

FIELDS = ("invocations", "errors", "throttles", "cold_starts", "billed_duration_ms", "billed_gb_s",
          "dlq_messages_sent", "destination_messages_sent", "timeouts")


def _to_epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (account, region, function, minute_epoch, version) -> counters
        self.rows: dict[tuple, dict[str, float]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))

    def clear(self) -> None:
        with self._lock:
            self.rows.clear()

    def add(self, account: str, region: str, function: str, minute: int, version: str, **counts: float) -> None:
        with self._lock:
            row = self.rows[(account, region, function, int(minute), str(version))]
            for k, v in counts.items():
                row[k] = row.get(k, 0) + v

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            r = dict(r)
            self.add(r.pop("account"), r.pop("region"), r.pop("function"), r.pop("minute"),
                     r.pop("version", "$LATEST"), **r)

    def query(self, *, function: str | None = None, start: Any = None, end: Any = None,
              account: str | None = None, region: str | None = None,
              by_version: bool = False) -> list[dict[str, Any]]:
        s, e = _to_epoch(start), _to_epoch(end)
        out: dict[tuple, dict[str, Any]] = {}
        with self._lock:
            items = list(self.rows.items())
        for (acct, reg, fn, minute, version), counts in items:
            if function and fn != function:
                continue
            if account and acct != account:
                continue
            if region and reg != region:
                continue
            if s is not None and minute < s:
                continue
            if e is not None and minute >= e:
                continue
            key = (acct, reg, fn, minute, version if by_version else None)
            row = out.get(key)
            if row is None:
                row = out[key] = {"account": acct, "region": reg, "function": fn,
                                  "minute": datetime.fromtimestamp(minute, timezone.utc).isoformat(),
                                  **dict.fromkeys(FIELDS, 0)}
                if by_version:
                    row["version"] = version
            for k, v in counts.items():
                row[k] = row.get(k, 0) + v
        rows = sorted(out.values(), key=lambda r: (r["account"], r["region"], r["function"], r["minute"],
                                                   r.get("version", "")))
        for r in rows:
            r["billed_gb_s"] = round(r["billed_gb_s"], 6)
        return rows

    def totals(self, **kw: Any) -> dict[str, float]:
        tot = dict.fromkeys(FIELDS, 0)
        for r in self.query(**kw):
            for k in FIELDS:
                tot[k] += r[k]
        tot["billed_gb_s"] = round(tot["billed_gb_s"], 6)
        return tot
