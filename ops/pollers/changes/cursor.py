"""The changes poller's cursor: the end of the last complete CloudTrail read. Only this poller
reads it. Stored on PollStatus(source=changes).cursor as ``{"until": ISO time}``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ops.pollers.cursors import CursorError, decode_object, decode_times


@dataclass(frozen=True)
class ChangesCursor:
    until: datetime | None = None

    @classmethod
    def from_json(cls, data, *, warn: Callable[[str], None]) -> ChangesCursor:
        """Decode; anything malformed gives an empty cursor (the initial window is re-read: the
        EventId dedup makes that free of duplicates) and a warning."""
        if not data:
            return cls()
        try:
            obj = decode_object(data, known={"until"})
            return cls(until=decode_times({"until": obj["until"]}, what="cursor")["until"] if "until" in obj else None)
        except CursorError as err:
            warn(f"changes cursor unreadable ({err}); the initial window is read again")
            return cls()

    def to_json(self) -> dict:
        return {"until": self.until.isoformat()} if self.until else {}
