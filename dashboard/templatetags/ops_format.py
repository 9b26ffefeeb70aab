"""Number formatting for the pages: every number with its unit, compact where space is tight."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django import template

from ops.pollers.health import ago
from ops.rules.evaluate import value_level
from ops.rules.signals import BY_KEY, Level

register = template.Library()


@register.filter
def state(value, signal: str) -> str:
    """The state class for ``value`` on the levels of the signal named ``signal``
    ("state-bad", "state-warn", or "" when in line or unknown)."""
    try:
        value = float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        value = None
    level = value_level(BY_KEY[signal], value)
    return "" if level is Level.OK else f"state-{level.value}"


@register.filter
def urlencode_dict(params: dict) -> str:
    return urlencode(params or {})


@register.filter
def mul(value, factor):
    try:
        return float(value) * float(factor)
    except (TypeError, ValueError):
        return ""


@register.filter
def compact(value) -> str:
    """1234 → 1.2 k, 1200000 → 1.2 M (counts)."""
    if value is None or value == "":
        return "—"
    v = float(value)
    for div, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= div:
            return f"{v / div:.1f}{suffix}"
    return f"{v:.0f}"


@register.filter
def ms(value) -> str:
    """Milliseconds with a unit that fits: 840 ms, 2.4 s, 3.1 min."""
    if value is None or value == "":
        return "—"
    v = float(value)
    if v >= 60_000:
        return f"{v / 60000:.1f} min"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    return f"{v:.0f} ms"


@register.filter
def usd(value) -> str:
    if value is None or value == "":
        return "—"
    v = float(value)
    return f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:.4f}"


@register.filter
def minutes_until(earlier: datetime | None, later: datetime | None) -> str:
    if not earlier or not later:
        return ""
    minutes = round((later - earlier).total_seconds() / 60)
    if abs(minutes) >= 120:
        return f"{minutes / 60:.1f} h"
    return f"{minutes} min"


@register.filter
def pct(value, digits: int = 1) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.{int(digits)}f} %"


@register.filter
def duration_s(value) -> str:
    """Seconds as "45 s", "12 min", "3 h 5 min"; "—" when unknown."""
    return "—" if value is None else ago(value)


@register.filter
def cadence_reason_label(value) -> str:
    """A CadenceReason value as its label ("busy (invoked in the last hour)")."""
    from ops.models import CadenceReason

    return CadenceReason(value).label if value in CadenceReason.values else str(value)
