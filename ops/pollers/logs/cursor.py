"""The logs poller's cursor: where each log group's next window starts. Only this poller reads it.

Stored on PollStatus(source=logs).cursor as
``{"groups": {log group: ISO minute}, "active": {function id: ISO minute}}``; ``active`` is the
last minute this poller saw a REPORT line for the function (a function can log without the
metrics poller having seen it yet, e.g. right after a backfill).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ops.pollers.cursors import CursorError, decode_object, decode_times, encode_times


@dataclass(frozen=True)
class LogsCursor:
    groups: Mapping[str, datetime] = field(default_factory=dict)  # end of the last stored window
    active: Mapping[str, datetime] = field(default_factory=dict)  # last minute with a REPORT line

    @classmethod
    def from_json(cls, data, *, warn: Callable[[str], None]) -> LogsCursor:
        """Decode; anything malformed gives an empty cursor (every group re-read) and a warning."""
        if not data:
            return cls()
        try:
            obj = decode_object(data, known={"groups", "active"})
            return cls(
                groups=decode_times(obj.get("groups", {}), what="groups"),
                active=decode_times(obj.get("active", {}), what="active"),
            )
        except CursorError as err:
            warn(f"logs cursor unreadable ({err}); every log group starts afresh")
            return cls()

    def to_json(self) -> dict:
        return {"groups": encode_times(dict(self.groups)), "active": encode_times(dict(self.active))}
