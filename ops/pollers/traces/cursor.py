"""The traces poller's cursor: up to when the scope's trace summaries were read. Only this poller reads it.

Stored on PollStatus(source=traces).cursor as ``{"until": ISO time}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ops.pollers.cursors import CursorError, decode_object, decode_times, encode_times


@dataclass(frozen=True)
class TracesCursor:
    until: datetime | None = None  # the end of the last window whose summaries were all read

    @classmethod
    def from_json(cls, data, *, warn: Callable[[str], None]) -> TracesCursor:
        """Decode; anything malformed gives an empty cursor (the initial backfill again) and a warning."""
        if not data:
            return cls()
        try:
            obj = decode_object(data, known={"until"})
            times = decode_times({k: v for k, v in obj.items()}, what="until")
        except CursorError as err:
            warn(f"traces cursor unreadable ({err}); summaries are read afresh")
            return cls()
        return cls(until=times.get("until"))

    def to_json(self) -> dict:
        return encode_times({"until": self.until}) if self.until else {}
