"""The log parser's throughput on a realistic mix, and its time on hostile 256 KB lines.

    SECRET_KEY=… python -m bench.bench_parse [--invocations 40000]

The mix is what the sandbox's traffic writes for the full estate (Python, Node.js, Java and
custom runtimes; text and JSON log formats; START/END/REPORT, app lines, cold starts, errors,
timeouts, out-of-memory kills): every line goes through ``parse_line`` (lines/s) and through
``aggregate`` (sanitising, parsing, quarantine, one error per invocation: lines/s). Each
hostile line is timed through ``aggregate`` (best and worst of 5); target < 50 ms each.
No database: parsing is pure. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

TARGET_HOSTILE_MS = 50.0
RID = "00000000-0000-4000-8000-000000000009"


def _mix(invocations: int, rng: random.Random) -> list[str]:
    from sandbox import payloads
    from sandbox.specs import full_specs

    specs = full_specs()
    lines: list[str] = []
    t = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    for n in range(invocations):
        f = specs[n % len(specs)]
        dur = rng.lognormvariate(4.5, 0.6)
        cold = rng.random() < 0.02
        init = rng.uniform(150, 900) if cold else 0.0
        timed_out = rng.random() < 0.01
        errored = timed_out or rng.random() < 0.04
        kind = ("oom" if rng.random() < 0.1 else "exception") if errored and not timed_out else None
        billed = int(dur + init) + 1
        rid = f"{rng.getrandbits(128):032x}"
        rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}"
        for _ts, msg in payloads.invocation_log(f, "$LATEST", rid, t + n * 0.01, dur, billed, min(f.memory, 80), init,
                                                errored, timed_out, kind, rng):
            lines.append(msg)
    return lines


def _hostile() -> dict[str, str]:
    size = 256 * 1024
    head = f"REPORT RequestId: {RID}\t"
    return {
        "report_memory_size_repeated": (head + "Memory Size " * (size // 12))[:size],
        "report_letters_and_spaces": (head + "a " * (size // 2))[:size],
        "report_fields_then_padding": (head + "Duration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\t" + "x" * size)[:size],
        "error_line": ("[ERROR] ValueError: " + "Duration: 1 ms " * (size // 15))[:size],
        "json_deep": ('{"level":"ERROR","a":' + "[" * (size // 2 - 20) + "]" * (size // 2 - 20) + "}"),
        "json_deep_under_64k": '{"level":"ERROR","a":' + "[" * 30_000 + "]" * 30_000 + "}",
        "json_long_string": json.dumps({"level": "ERROR", "message": "Order 12 not found " * (size // 20)}),
        "nul_and_surrogates": ("[ERROR] KeyError: '" + "\x00\ud800" * (size // 2))[:size],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invocations", type=int, default=40_000)
    args = ap.parse_args()
    import django

    django.setup()
    from ops.aws.logs import LogEvent
    from ops.pollers.logs.parse import BadLine, parse_line
    from ops.pollers.logs.store import aggregate

    rng = random.Random(7)
    lines = _mix(args.invocations, rng)
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [LogEvent(group="/aws/lambda/bench", stream="2026/01/01/[$LATEST]ab", timestamp=base + timedelta(milliseconds=i), message=m)
              for i, m in enumerate(lines)]

    t0 = time.perf_counter()
    kinds = {"report": 0, "error": 0, "other": 0, "bad": 0}
    for m in lines:
        try:
            r = parse_line(m)
        except BadLine:
            kinds["bad"] += 1
            continue
        kinds["other" if r is None else ("report" if hasattr(r, "duration_ms") else "error")] += 1
    parse_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    agg = aggregate(events, memory_mb=512)
    aggregate_s = time.perf_counter() - t0

    hostile = {}
    for name, line in _hostile().items():
        ev = [LogEvent(group="/aws/lambda/bench", stream="s", timestamp=base, message=line)]
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            a = aggregate(ev, memory_mb=512)
            times.append((time.perf_counter() - t0) * 1000)
        hostile[name] = {
            "chars": len(line),
            "best_ms": round(min(times), 2),
            "worst_ms": round(max(times), 2),
            "quarantined": sorted({q.reason for q in a.quarantined}),
            "counted": sum(m.reports + m.log_errors for m in a.minutes.values()),
        }
    worst = max(h["worst_ms"] for h in hostile.values())
    print(json.dumps({
        "mix": {"lines": len(lines), "invocations": args.invocations, **kinds,
                "reports_counted": sum(m.reports for m in agg.minutes.values()),
                "errors_counted": sum(m.log_errors for m in agg.minutes.values())},
        "parse_line_lines_per_s": round(len(lines) / parse_s),
        "aggregate_lines_per_s": round(len(lines) / aggregate_s),
        "hostile_256kb": hostile,
        "hostile_worst_ms": worst,
        "hostile_target_ms": TARGET_HOSTILE_MS,
        "hostile_ok": worst < TARGET_HOSTILE_MS,
    }, indent=2))


if __name__ == "__main__":
    main()
