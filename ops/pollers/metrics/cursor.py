"""The metrics poller's cursor: where each target's next window starts. Only this poller reads it.

Stored on PollStatus(source=metrics).cursor as
``{"until": {target key: ISO minute}, "partial": {target key: PartialData reads}}``.
Facts other code needs live elsewhere: a function's last invoked minute on
Function.last_invoked_at, the chosen cadence on MetricsCadence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ops.pollers.cursors import CursorError, decode_counts, decode_object, decode_times, encode_times

# Keys that cursors written before migration 0005 carried; that migration moved their content
# out. An older worker still running during an upgrade may write them once more: ignored, so
# the upgrade does not throw every target's position away.
LEGACY_KEYS = {"active", "cadence"}


@dataclass(frozen=True)
class MetricsCursor:
    until: Mapping[str, datetime] = field(default_factory=dict)  # end of the last stored window
    partial: Mapping[str, int] = field(default_factory=dict)  # reads that answered PartialData

    @classmethod
    def from_json(cls, data, *, warn: Callable[[str], None]) -> MetricsCursor:
        """Decode; anything malformed gives an empty cursor (every target re-read) and a warning."""
        if not data:
            return cls()
        try:
            obj = decode_object(data, known={"until", "partial"} | LEGACY_KEYS)
            return cls(
                until=decode_times(obj.get("until", {}), what="until"),
                partial=decode_counts(obj.get("partial", {}), what="partial"),
            )
        except CursorError as err:
            warn(f"metrics cursor unreadable ({err}); every target starts afresh")
            return cls()

    def to_json(self) -> dict:
        return {"until": encode_times(dict(self.until)), "partial": dict(sorted(self.partial.items()))}
