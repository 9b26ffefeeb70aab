"""Run every benchmark in bench/ (modules named bench_*.py) and print one JSON document.

Each benchmark is its own process (`python -m bench.bench_x`) that prints JSON on stdout;
results are also written to bench/results/<name>.json. Run by hand: `make bench`.
bench_page_weight starts the demo (sandbox, web, workers) on WEB_PORT / SANDBOX_PORT for its
browser measurement and stops it again.

Long benchmarks (SLOW) run only when named (`python -m bench.run bench_soak`) or with `--all`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Half an hour or more each: left out of the default run.
SLOW = {"bench_soak", "bench_pages_scale"}


def main(names: list[str], *, everything: bool = False) -> int:
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    results: dict[str, object] = {}
    failed = False
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if names and name not in names:
            continue
        if not names and name in SLOW and not everything:
            continue
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent, capture_output=True, text=True)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            result = {"error": "no JSON on stdout", "stderr": proc.stderr[-2000:]}
        if proc.returncode != 0:
            failed = True
            result = {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-2000:], "partial": result}
        result = {"wall_s": round(time.monotonic() - t0, 2), **(result if isinstance(result, dict) else {"result": result})}
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2))
        results[name] = result
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(main([a for a in args if a != "--all"], everything="--all" in args))
