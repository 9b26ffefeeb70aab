"""Logs Insights `stats … by …` aggregation over parsed records (count, sum, avg, min, max, pct, bin)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any


def _fmt_ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


_AGG = re.compile(r"^\s*(?P<fn>count|sum|avg|min|max|pct|count_distinct)\((?P<arg>[^)]*)\)\s*(?:as\s+(?P<alias>[\w@.]+))?\s*$", re.I)
_BIN = re.compile(r"^\s*bin\((?P<n>\d+)(?P<u>ms|s|m|h|d)\)\s*(?:as\s+(?P<alias>[\w@.]+))?\s*$", re.I)
_UNIT = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def _split_commas(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def run_stats(spec: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    m = re.search(r"\s+by\s+", spec, re.I)
    aggs_text, by_text = (spec[:m.start()], spec[m.end():]) if m else (spec, "")
    aggs = []
    for a in _split_commas(aggs_text):
        am = _AGG.match(a)
        if not am:
            raise ValueError(f"unsupported stats function: {a}")
        fn, arg = am.group("fn").lower(), am.group("arg").strip()
        name = am.group("alias") or re.sub(r"\s+", "", a.split(" as ")[0].strip())
        aggs.append((fn, arg, name))
    keys = []
    for b in _split_commas(by_text):
        bm = _BIN.match(b)
        if bm:
            keys.append(("bin", int(bm.group("n")) * _UNIT[bm.group("u").lower()], bm.group("alias") or re.sub(r"\s+", "", b)))
        else:
            f = b.split(" as ")
            keys.append(("field", f[0].strip(), (f[1] if len(f) > 1 else f[0]).strip()))
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        k = []
        for kind, arg, _name in keys:
            if kind == "bin":
                k.append(int(r["@timestamp"] // arg * arg))
            else:
                k.append(r.get(arg))
        groups.setdefault(tuple(k), []).append(r)
    rows = []
    for k, rs in groups.items():
        row: dict[str, Any] = {}
        for (kind, _arg, name), v in zip(keys, k):
            row[name] = _fmt_ts(v) if kind == "bin" else v
        for fn, arg, name in aggs:
            if fn == "count":
                val: Any = len(rs) if arg in ("", "*") else sum(1 for r in rs if r.get(arg) is not None)
            elif fn == "count_distinct":
                val = len({r.get(arg) for r in rs if r.get(arg) is not None})
            else:
                field = arg.split(",")[0].strip()
                nums = []
                for r in rs:
                    v = r.get(field)
                    if v is None:
                        continue
                    try:
                        nums.append(float(v))
                    except (TypeError, ValueError):
                        pass
                if not nums:
                    val = None
                elif fn == "sum":
                    val = sum(nums)
                elif fn == "avg":
                    val = sum(nums) / len(nums)
                elif fn == "min":
                    val = min(nums)
                elif fn == "max":
                    val = max(nums)
                else:
                    q = float(arg.split(",")[1])
                    nums.sort()
                    idx = max(0, min(len(nums) - 1, int(-(-q / 100.0 * len(nums) // 1)) - 1))
                    val = nums[idx]
            row[name] = val
        rows.append(row)
    bin_names = [name for kind, _a, name in keys if kind == "bin"]
    if bin_names:
        rows.sort(key=lambda r: r[bin_names[0]], reverse=True)
    return rows
