"""The function page's weight in a real browser (Chromium through Playwright), as JSON.

    python -m bench.bench_page_weight                       # starts `python -m dashboard.demo` itself
    python -m bench.bench_page_weight --url http://127.0.0.1:8000 --user demo --password lambda-ops-demo

Without ``--url`` it starts the demo (sandbox estate, web, workers, beat) on ``WEB_PORT`` /
``SANDBOX_PORT`` (defaults 8000 / 5055, as ``make demo``), waits until the busiest function
has a day of data, measures, and stops it again. Then, for the function page at ``--range``
(24 h by default), ``--runs`` times:

1. cold: a fresh browser context (empty HTTP cache, the session cookie only) loads the page;
2. warm: the same context loads it again, so static files may come from the cache;

and reports, per load, the bytes transferred (Chrome's encoded data length: compressed
bodies plus headers), the HTML's own bytes, requests, DOMContentLoaded and the time until
every chart is drawn — the median over the runs — against the targets below. Run by hand;
never a timed assertion in the test suite. Results also go to bench/results/page_weight.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TARGETS = {"cold_bytes": 800_000, "warm_bytes": 150_000, "dom_content_loaded_ms": 500}


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (our own demo on 127.0.0.1)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def start_demo() -> tuple[subprocess.Popen, str, str, str]:
    port = os.environ.get("WEB_PORT", "8000")
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.demo"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/healthz", 240)
    return proc, url, env.get("DEMO_USER", "demo"), env.get("DEMO_PASSWORD", "lambda-ops-demo")


def stop_demo(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def log_in(browser, url: str, user: str, password: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/**")
    state = context.storage_state()
    context.close()
    return state


def pick_function(browser, state: dict, url: str, *, name: str, time_range: str, wait_s: float) -> dict:
    """The named function, or the one with the most invocations, once it has data for the range."""
    context = browser.new_context(storage_state=state)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            resp = context.request.get(f"{url}/api/v1/fleet?range={time_range}&sort=-invocations&per_page=200")
            rows = resp.json().get("functions", []) if resp.ok else []
            rows = [r for r in rows if (not name or r["name"] == name) and (r.get("invocations") or 0) > 0]
            if rows:
                page = context.request.get(f"{url}/functions/{rows[0]['id']}/?range={time_range}")
                if 'class="chart"' in page.text():
                    return rows[0]
            if time.monotonic() > deadline:
                raise SystemExit(f"no function with data for {time_range} within {wait_s:.0f} s")
            time.sleep(5)
    finally:
        context.close()


def load(page, cdp, target: str) -> dict:
    """One navigation: bytes over the wire (CDP), the document's size, DOMContentLoaded, charts drawn."""
    sizes: dict[str, int] = {}
    kinds: dict[str, str] = {}
    document: dict = {}

    def on_response(ev):
        kinds[ev["requestId"]] = ev["type"]
        if ev["type"] == "Document":
            document["id"] = ev["requestId"]
            document["from_cache"] = ev["response"].get("fromDiskCache", False)

    def on_finished(ev):
        sizes[ev["requestId"]] = int(ev["encodedDataLength"])

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    t0 = time.perf_counter()
    resp = page.goto(target, wait_until="load")
    # Every chart drawn (data-drawn; builds before it, one <script> per chart, had data-figure).
    page.wait_for_function(
        "() => { const c = document.querySelectorAll('.chart');"
        " return c.length > 0 && Array.from(c).every(el => el.hasAttribute('data-drawn')"
        " || (el.hasAttribute('data-figure') && el.querySelector('svg.main-svg'))); }",
        timeout=60_000,
    )
    drawn_ms = (time.perf_counter() - t0) * 1000
    page.wait_for_timeout(300)  # let the last loadingFinished events arrive
    nav = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {dcl: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime,"
        " html: n.responseEnd - n.startTime}; }"
    )
    cdp.remove_listener("Network.responseReceived", on_response)
    cdp.remove_listener("Network.loadingFinished", on_finished)
    by_type: dict[str, int] = {}
    for rid, n in sizes.items():
        by_type[kinds.get(rid, "Other")] = by_type.get(kinds.get(rid, "Other"), 0) + n
    return {
        "bytes": sum(sizes.values()),
        "requests": len(sizes),
        "by_type": by_type,
        "html_bytes": len(resp.body()),
        "html_transfer_bytes": sizes.get(document.get("id"), 0),
        "html_encoding": resp.headers.get("content-encoding", "identity"),
        "html_received_ms": round(nav["html"], 1),  # server time + transfer of the document
        "dom_content_loaded_ms": round(nav["dcl"], 1),
        "load_ms": round(nav["load"], 1),
        "charts_drawn_ms": round(drawn_ms, 1),
    }


def median_of(loads: list[dict]) -> dict:
    out = dict(loads[len(loads) // 2])
    for key in ("bytes", "html_bytes", "html_transfer_bytes", "html_received_ms", "dom_content_loaded_ms", "load_ms",
                "charts_drawn_ms"):
        out[key] = statistics.median(x[key] for x in loads)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="function page weight in Chromium")
    parser.add_argument("--url", default="", help="a running product (default: start the demo)")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="lambda-ops-demo")
    parser.add_argument("--function", default="", help="function name (default: the busiest)")
    parser.add_argument("--range", default="24h", dest="time_range")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for data")
    parser.add_argument("--screenshot", default="", help="save a full-page screenshot of the last load here")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    demo = None
    url, user, password = args.url.rstrip("/"), args.user, args.password
    if not url:
        demo, url, user, password = start_demo()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            state = log_in(browser, url, user, password)
            fn = pick_function(browser, state, url, name=args.function, time_range=args.time_range, wait_s=args.wait)
            target = f"{url}/functions/{fn['id']}/?range={args.time_range}"
            cold, warm = [], []
            for _ in range(args.runs):
                context = browser.new_context(storage_state=state, viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cold.append(load(page, cdp, target))
                warm.append(load(page, cdp, target))
                if args.screenshot:
                    page.screenshot(path=args.screenshot, full_page=True)
                context.close()
            browser.close()
    finally:
        if demo is not None:
            stop_demo(demo)
    result = {
        "url": target.replace(url, ""),
        "function": fn["name"],
        "range": args.time_range,
        "runs": args.runs,
        "cold": median_of(cold),
        "warm": median_of(warm),
        "targets": TARGETS,
    }
    result["ok"] = {
        "cold_bytes": result["cold"]["bytes"] <= TARGETS["cold_bytes"],
        "warm_bytes": result["warm"]["bytes"] <= TARGETS["warm_bytes"],
        "dom_content_loaded_ms": result["cold"]["dom_content_loaded_ms"] <= TARGETS["dom_content_loaded_ms"],
    }
    text = json.dumps(result, indent=2)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "page_weight.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
