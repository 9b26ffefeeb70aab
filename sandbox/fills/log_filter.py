"""CloudWatch Logs filter patterns for FilterLogEvents (moto matches unknown syntax as "everything").

Supported: terms (all must appear, case-sensitive), "quoted phrases", ``?term`` (at least one of
the ``?`` terms), ``-term`` (must not appear), ``%regex%``, JSON patterns
``{ $.level = "ERROR" && $.latency > 100 }`` (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``*``
wildcards, ``&&``/``||``, parentheses, ``IS NULL``/``NOT EXISTS``), and space-delimited patterns
``[ip, user, ..., status=5*, size>1000]``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from functools import lru_cache
from typing import Any, Callable

Matcher = Callable[[str], bool]


@lru_cache(maxsize=256)
def compile_pattern(pattern: str | None) -> Matcher:
    p = (pattern or "").strip()
    if not p:
        return lambda m: True
    if p.startswith("{") and p.endswith("}"):
        return _json_pattern(p[1:-1])
    if p.startswith("[") and p.endswith("]"):
        return _delimited_pattern(p[1:-1])
    if len(p) > 1 and p.startswith("%") and p.endswith("%"):
        rx = re.compile(p[1:-1])
        return lambda m: rx.search(m) is not None
    try:
        tokens = shlex.split(p, posix=True)
    except ValueError:
        tokens = p.split()
    must, anyof, exclude = [], [], []
    for tok in tokens:
        if tok.startswith("?") and len(tok) > 1:
            anyof.append(tok[1:])
        elif tok.startswith("-") and len(tok) > 1:
            exclude.append(tok[1:])
        else:
            must.append(tok)

    def match(m: str) -> bool:
        if any(t not in m for t in must):
            return False
        if any(t in m for t in exclude):
            return False
        return not anyof or any(t in m for t in anyof)

    return match


# -- JSON patterns ----------------------------------------------------------------------------------------
_JTOK = re.compile(r"""\s*(?:(?P<sel>\$(?:\.[\w@-]+|\[\d+\])*)|(?P<op>&&|\|\||!=|>=|<=|=|<|>|\(|\))|
                       (?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_*][\w*.-]*))""", re.X)


def _jtokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _JTOK.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"bad filter pattern near {text[pos:pos + 15]!r}")
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return out


def _select(doc: Any, sel: str) -> Any:
    cur = doc
    for part in re.findall(r"\.([\w@-]+)|\[(\d+)\]", sel):
        key, idx = part
        if key:
            if not isinstance(cur, dict) or key not in cur:
                return _MISSING
            cur = cur[key]
        else:
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return _MISSING
            cur = cur[int(idx)]
    return cur


_MISSING = object()


def _cmp(value: Any, op: str, kind: str, raw: str) -> bool:
    if value is _MISSING:
        return False
    if kind == "num":
        try:
            v, r = float(value), float(raw)
        except (TypeError, ValueError):
            return False
        return {"=": v == r, "!=": v != r, ">": v > r, "<": v < r, ">=": v >= r, "<=": v <= r}[op]
    target = json.loads(raw) if kind == "str" else raw
    if target in ("true", "false") and isinstance(value, bool):
        eq = value == (target == "true")
    elif target == "null":
        eq = value is None
    else:
        eq = fnmatch.fnmatchcase(str(value), str(target)) if "*" in str(target) else str(value) == str(target)
    return eq if op == "=" else (not eq if op == "!=" else False)


def _json_pattern(body: str) -> Matcher:
    toks = _jtokens(body)
    pos = [0]

    def peek() -> tuple[str, str] | None:
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take() -> tuple[str, str]:
        tok = peek()
        if tok is None:
            raise ValueError("unexpected end of filter pattern")
        pos[0] += 1
        return tok

    def expr() -> Callable[[Any], bool]:
        left = term()
        while peek() and peek()[1] in ("&&", "||"):
            op = take()[1]
            right = term()
            left = (lambda a, b: lambda d: a(d) and b(d))(left, right) if op == "&&" else \
                (lambda a, b: lambda d: a(d) or b(d))(left, right)
        return left

    def term() -> Callable[[Any], bool]:
        kind, val = take()
        if val == "(":
            inner = expr()
            take()
            return inner
        if kind != "sel":
            raise ValueError(f"expected a $ selector, got {val!r}")
        sel = val
        nxt = peek()
        if nxt and nxt[0] == "word" and nxt[1].upper() in ("IS", "NOT"):
            words = []
            while peek() and peek()[0] == "word":
                words.append(take()[1].upper())
            if words[:2] == ["IS", "NULL"]:
                return lambda d: _select(d, sel) is None
            if words[:2] == ["NOT", "EXISTS"]:
                return lambda d: _select(d, sel) is _MISSING
            if words[:2] == ["IS", "TRUE"]:
                return lambda d: _select(d, sel) is True
            if words[:2] == ["IS", "FALSE"]:
                return lambda d: _select(d, sel) is False
            raise ValueError(f"unsupported {' '.join(words)}")
        op = take()[1]
        rkind, rval = take()
        return lambda d: _cmp(_select(d, sel), op, rkind, rval)

    pred = expr()

    def match(m: str) -> bool:
        try:
            doc = json.loads(m)
        except ValueError:
            return False
        return bool(pred(doc))

    return match


# -- space-delimited patterns -------------------------------------------------------------------------------
def _delimited_pattern(body: str) -> Matcher:
    fields = [f.strip() for f in body.split(",")]
    conds: list[tuple[int, str, str]] = []
    has_ellipsis = False
    for i, f in enumerate(fields):
        if f == "...":
            has_ellipsis = True
            continue
        m = re.match(r"^[\w-]+\s*(=|!=|>=|<=|>|<)\s*(.+)$", f)
        if m:
            conds.append((i, m.group(1), m.group(2).strip().strip('"')))

    def match(msg: str) -> bool:
        try:
            parts = shlex.split(msg)
        except ValueError:
            parts = msg.split()
        if not has_ellipsis and len(parts) != len(fields):
            return False
        for i, op, want in conds:
            if i >= len(parts):
                return False
            kind = "num" if re.fullmatch(r"-?\d+(\.\d+)?", want) else "word"
            if not _cmp(parts[i], op, kind, want):
                return False
        return True

    return match


def install() -> None:
    from moto.logs import models as lmod

    from moto.logs.exceptions import InvalidParameterException

    class EventMessageFilter:
        def __init__(self, pattern: str) -> None:
            try:
                self._match = compile_pattern(pattern or "")
            except (ValueError, re.error) as exc:
                raise InvalidParameterException(f"Invalid filter pattern: {exc}")

        def matches(self, message: str) -> bool:
            return self._match(message)

    lmod.EventMessageFilter = EventMessageFilter  # type: ignore[misc,assignment]
