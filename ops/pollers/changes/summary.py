"""What a change row says: the values before (where the inventory still had them) and one line."""

from __future__ import annotations

from ops.models import Function
from ops.models.choices import ChangeKind
from ops.pollers.changes.parse import ParsedChange

UNITS = {"memory_mb": " MB", "timeout_s": " s", "ephemeral_storage_mb": " MB", "async_max_event_age_s": " s"}
LABELS = {
    "memory_mb": "memory",
    "timeout_s": "timeout",
    "ephemeral_storage_mb": "ephemeral storage",
    "reserved_concurrency": "reserved concurrency",
    "provisioned_concurrency": "provisioned concurrency",
    "async_max_retries": "async retries",
    "async_max_event_age_s": "async max event age",
}


def before_of(change: ParsedChange, fn: Function | None) -> dict:
    """The inventory's value of each changed field, if it still differs from the new one (if the
    inventory already read the new value, "before" is not known from here)."""
    if fn is None or change.kind == ChangeKind.ALIAS:
        return {}
    out = {}
    for key, value in change.after.items():
        if hasattr(fn, key) and getattr(fn, key) != value:
            out[key] = getattr(fn, key)
    return out


def _value(key: str, value) -> str:
    return "none" if value is None else f"{value}{UNITS.get(key, '')}"


def summary_of(change: ParsedChange, before: dict) -> str:
    if change.kind == ChangeKind.ALIAS:
        if change.event_name == "DeleteAlias":
            return f"alias {change.alias} deleted"
        weights = "".join(f" + v{v} {round(w * 100)} %" for v, w in sorted(change.to_weights.items()))
        created = " created" if change.event_name == "CreateAlias" else ""
        return f"{change.alias}{created} → v{change.to_version}{weights}"
    if change.kind == ChangeKind.VERSION:
        return f"published v{change.after.get('version') or '?'}"
    if change.kind == ChangeKind.CODE:
        return "code updated"
    parts = []
    for key, value in change.after.items():
        label = LABELS.get(key, key)
        if key in before:
            parts.append(f"{label} {_value(key, before[key])} → {_value(key, value)}")
        else:
            parts.append(f"{label} → {_value(key, value)}")
    if parts:
        return ", ".join(parts)
    return {
        ChangeKind.CONFIG: "configuration updated",
        ChangeKind.ASYNC: "async invocation config updated",
        ChangeKind.FUNCTION: f"function {'created' if change.event_name.startswith('Create') else 'deleted'}",
    }.get(change.kind, change.event_name)
