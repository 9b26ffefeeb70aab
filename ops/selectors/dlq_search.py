"""Search criteria for stored DLQ messages: free text and one JSON-path comparison. Pure parsing.

``detail.orderId = 42`` · ``detail.orderId != 42`` · ``user.name = "Zoë"`` · ``type = order.created``
· ``items.0.sku = A-1``. The path is dot-separated keys (a whole number is also an array index);
the value is a JSON literal (number, "string", true, false, null) or, bare, a string. Numbers
are compared as numbers (``42`` matches 42 and 42.0, not "42"); strings as strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

MAX_PATH_DEPTH = 12
MAX_EXPRESSION = 300
_KEY = re.compile(r"[A-Za-z0-9_$@-]{1,100}")
_EXPR = re.compile(r"^\s*(?P<path>[^=!<>\s]+(?:\s*\.\s*[^=!<>\s]+)*)\s*(?P<op>!=|==|=)\s*(?P<value>.+?)\s*$", re.S)


class CriteriaError(ValueError):
    """A search expression that cannot be read; the message says what is wrong, for an operator."""


@dataclass(frozen=True)
class JsonPath:
    keys: tuple[str, ...]
    negate: bool
    value: object  # str, int, float, bool or None

    @property
    def expression(self) -> str:
        return f"{'.'.join(self.keys)} {'!=' if self.negate else '='} {json.dumps(self.value, ensure_ascii=False)}"


@dataclass(frozen=True)
class Criteria:
    text: str = ""
    json_path: JsonPath | None = None
    group: str = ""  # a group signature (40 hex)
    since: datetime | None = None
    until: datetime | None = None
    present_only: bool = True

    @property
    def empty(self) -> bool:
        return not (self.text or self.json_path or self.group or self.since or self.until)


def json_path_parse(raw: str) -> JsonPath | None:
    """``a.b.c = value`` → JsonPath; blank → None; anything else → CriteriaError."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if len(raw) > MAX_EXPRESSION:
        raise CriteriaError(f"is {len(raw):,} characters long; at most {MAX_EXPRESSION} are accepted")
    m = _EXPR.match(raw)
    if not m:
        raise CriteriaError("must look like path.to.key = value (or !=), e.g. detail.orderId = 42")
    keys = tuple(k.strip() for k in m.group("path").split("."))
    if len(keys) > MAX_PATH_DEPTH:
        raise CriteriaError(f"path has {len(keys)} keys; at most {MAX_PATH_DEPTH} are accepted")
    for key in keys:
        if not _KEY.fullmatch(key):
            raise CriteriaError(f"path key {key[:40]!r} may hold only letters, digits and _ $ @ -")
    return JsonPath(keys=keys, negate=m.group("op") == "!=", value=_value(m.group("value")))


def _value(raw: str) -> object:
    raw = raw.strip()
    if raw.startswith(("'",)) and raw.endswith("'") and len(raw) >= 2:
        return _storable(raw[1:-1])
    try:
        value = json.loads(raw)
    except ValueError:
        if raw.startswith('"'):
            raise CriteriaError(f"value {raw[:40]} opens a quote it does not close") from None
        return _storable(raw)  # a bare word is a string
    if isinstance(value, (dict, list)):
        raise CriteriaError("value must be a number, a string, true, false or null (not an object or a list)")
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise CriteriaError("value must be a finite number")
    return _storable(value) if isinstance(value, str) else value


def _storable(value: str) -> str:
    # The value goes to Postgres as ::jsonb, which refuses NUL (a DataError) and cannot even be
    # sent a lone surrogate (it is not UTF-8); no stored body holds either, so say so instead.
    if "\x00" in value:
        raise CriteriaError("value holds a NUL character (\\u0000), which no stored message can hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CriteriaError("value holds a lone surrogate (such as \\ud800), which is not text any message can hold") from None
    return value
