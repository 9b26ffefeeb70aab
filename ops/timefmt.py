"""Instants written out for people and clients: always converted to UTC before formatting.

A datetime can carry any offset (``--expires 2027-03-01T00:00:00+02:00`` parses to +02:00);
formatting it without converting would print its local wall time labelled UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(dt: datetime | None) -> str | None:
    """``2027-02-28T22:00:00Z``: ISO 8601 in UTC, whole seconds; None stays None."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def minute_utc(dt: datetime) -> str:
    """``2027-02-28 22:00 UTC``: what a listing or a message shows a person."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
