"""The changes poller's cursor: the end of the last complete CloudTrail read, and the older part
of a window a run could not finish. Only this poller reads it. Stored on
PollStatus(source=changes).cursor as ``{"until": ISO time}``, plus ``"backlog_from"`` and
``"backlog_until"`` (ISO times) while such a part is left: LookupEvents answers newest first, so
a run cut off by CHANGES_MAX_PAGES has read the newest events and left the oldest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ops.pollers.cursors import CursorError, decode_object, decode_times, encode_times

_KEYS = {"until", "backlog_from", "backlog_until"}


@dataclass(frozen=True)
class ChangesCursor:
    until: datetime | None = None
    # [backlog_from, backlog_until]: events not read yet; read first by the next run.
    backlog_from: datetime | None = None
    backlog_until: datetime | None = None

    @property
    def backlog(self) -> tuple[datetime, datetime] | None:
        if self.backlog_from is None or self.backlog_until is None:
            return None
        return self.backlog_from, self.backlog_until

    @classmethod
    def from_json(cls, data, *, warn: Callable[[str], None]) -> ChangesCursor:
        """Decode; anything malformed gives an empty cursor (the initial window is re-read: the
        EventId dedup makes that free of duplicates) and a warning."""
        if not data:
            return cls()
        try:
            obj = decode_object(data, known=_KEYS)
            times = decode_times(obj, what="cursor")
            if ("backlog_from" in times) != ("backlog_until" in times):
                raise CursorError("backlog_from and backlog_until come together")
            if "backlog_from" in times and times["backlog_from"] >= times["backlog_until"]:
                raise CursorError("the backlog ends before it starts")
            return cls(**times)
        except CursorError as err:
            warn(f"changes cursor unreadable ({err}); the initial window is read again")
            return cls()

    def to_json(self) -> dict:
        values = {"until": self.until, "backlog_from": self.backlog_from, "backlog_until": self.backlog_until}
        return encode_times({k: v for k, v in values.items() if v is not None})
