"""Decoding helpers for the pollers' typed cursors (each poller owns its own codec).

A cursor is stored as JSON on its PollStatus row. Anything that does not match the codec's
shape raises CursorError here; the codec turns that into a safe empty cursor and a poll
warning, so a damaged row costs a re-read, never a failed run.
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone


class CursorError(ValueError):
    """The stored cursor does not have the shape its codec expects."""


def decode_object(data, *, known: set[str]) -> dict:
    if not isinstance(data, dict):
        raise CursorError(f"expected an object, got {type(data).__name__}")
    unknown = set(data) - known
    if unknown:
        raise CursorError(f"unknown key(s) {sorted(unknown)}")
    return data


def decode_times(data, *, what: str) -> dict[str, datetime]:
    """{key: ISO 8601 text} → {key: aware datetime} (naive text is read as UTC)."""
    if not isinstance(data, dict):
        raise CursorError(f"{what}: expected an object, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise CursorError(f"{what}[{key!r}]: expected a timestamp, got {value!r}")
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise CursorError(f"{what}[{key!r}]: not a timestamp: {value!r}") from None
        out[str(key)] = ts if ts.tzinfo else ts.replace(tzinfo=dt_timezone.utc)
    return out


def decode_counts(data, *, what: str) -> dict[str, int]:
    if not isinstance(data, dict):
        raise CursorError(f"{what}: expected an object, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CursorError(f"{what}[{key!r}]: expected a count, got {value!r}")
        out[str(key)] = value
    return out


def encode_times(values: dict[str, datetime]) -> dict[str, str]:
    return {key: ts.isoformat() for key, ts in sorted(values.items())}
