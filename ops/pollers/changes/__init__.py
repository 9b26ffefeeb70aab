"""The changes poller: CloudTrail LookupEvents → Change rows and exact deploy markers.

poll (the run), parse (an event → what changed, by whom: pure), summary (the row's one line),
merge (CloudTrail's alias events and the inventory's sightings as one AliasChange; the
ExecutedVersion fallback), cursor (the end of the last complete read).
"""

from ops.pollers.changes.poll import caught_fire_unread, changes_poll

__all__ = ["caught_fire_unread", "changes_poll"]
