"""Alerts: rules evaluated from stored telemetry, incidents, the diagnosis, notifications.

- ``pack``: the default rule pack, applied to every function from its first poll.
- ``evaluate``: one evaluation tick, rule × function → AlertState, each change an AlertFlip;
  ``sources`` its set-based reads, ``judge`` the pure state machine (shared with the preview).
- ``preview``: how often a rule would have fired over the last 7 days of stored data.
- ``incidents``: claims flips exactly once, opens/groups/resolves incidents, links actions,
  runs the opt-in automatic rollback.
- ``diagnosis``: the lines an on-call engineer would assemble by hand, each with its evidence.
- ``links``: signed, expiring acknowledge/mute links for notifications.
- ``outbox`` and ``transports``: durable delivery (Slack, email, JSON webhook).

Thresholds and wording come from ``ops.rules``; nothing here keeps a copy of them.
"""
