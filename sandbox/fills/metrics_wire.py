"""Fast JSON and CBOR encoders for large GetMetricData answers (epoch-second timestamps)."""

from __future__ import annotations

import json
import struct
from typing import Any


def encode_json(out: dict[str, Any]) -> bytes:
    return json.dumps(out, separators=(",", ":")).encode()


def _cb_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 256:
        return bytes([(major << 5) | 24, n])
    if n < 65536:
        return bytes([(major << 5) | 25]) + n.to_bytes(2, "big")
    if n < 2 ** 32:
        return bytes([(major << 5) | 26]) + n.to_bytes(4, "big")
    return bytes([(major << 5) | 27]) + n.to_bytes(8, "big")


def _cb(value: Any, parts: list[bytes]) -> None:
    if isinstance(value, str):
        b = value.encode()
        parts.append(_cb_head(3, len(b)))
        parts.append(b)
    elif isinstance(value, bool):
        parts.append(b"\xf5" if value else b"\xf4")
    elif isinstance(value, int):
        parts.append(_cb_head(0, value) if value >= 0 else _cb_head(1, -1 - value))
    elif isinstance(value, float):
        parts.append(b"\xfb" + struct.pack(">d", value))
    elif isinstance(value, dict):
        parts.append(_cb_head(5, len(value)))
        for k, v in value.items():
            _cb(k, parts)
            _cb(v, parts)
    elif isinstance(value, list):
        parts.append(_cb_head(4, len(value)))
        for v in value:
            _cb(v, parts)
    elif value is None:
        parts.append(b"\xf6")
    else:
        raise TypeError(type(value))


def encode_cbor(out: dict[str, Any]) -> bytes:
    parts: list[bytes] = []
    parts.append(_cb_head(5, len(out)))
    for k, v in out.items():
        _cb(k, parts)
        if k != "MetricDataResults":
            _cb(v, parts)
            continue
        parts.append(_cb_head(4, len(v)))
        for r in v:
            parts.append(_cb_head(5, len(r)))
            for rk, rv in r.items():
                _cb(rk, parts)
                if rk == "Timestamps":
                    parts.append(_cb_head(4, len(rv)))
                    tag = b"\xc1"  # tag 1: epoch seconds
                    parts.extend(tag + _cb_head(0, int(t)) for t in rv)
                elif rk == "Values":
                    parts.append(_cb_head(4, len(rv)))
                    if rv:
                        packed = struct.pack(f">{len(rv)}d", *[float(x) for x in rv])
                        parts.extend(b"\xfb" + packed[i:i + 8] for i in range(0, len(packed), 8))
                else:
                    _cb(rv, parts)
    return b"".join(parts)
