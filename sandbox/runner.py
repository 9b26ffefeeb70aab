"""Drive the traffic generator against a sandbox: in-process (fast) or over HTTP (another process)."""

from __future__ import annotations

import gc
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .estate import Estate, FunctionSpec, fetch_estate
from .batch import Batch
from .traffic import Generator


class SandboxError(RuntimeError):
    pass


def _post(endpoint: str, path: str, payload: Any, timeout: float = 300) -> Any:
    req = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(req, timeout=timeout).read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error")
        except Exception:
            detail = str(exc)
        raise SandboxError(f"{path}: {detail}") from None


def _get(endpoint: str, path: str, timeout: float = 60) -> Any:
    return json.loads(urllib.request.urlopen(f"{endpoint}{path}", timeout=timeout).read() or b"null")


class Target:
    """Where batches go and where scenario/alias state comes from."""

    endpoint: str

    def apply(self, batch: Batch) -> dict[str, int]:
        raise NotImplementedError

    def scenario(self) -> dict[str, Any]:
        raise NotImplementedError

    def scenario_changed(self) -> None:
        """This process just switched the server's scenario: the next ``scenario()`` must see it."""

    def estate(self) -> Estate | None:
        raise NotImplementedError

    def routing(self, f: FunctionSpec) -> list[tuple[str, float]] | None:
        return None

    def controls(self, f: FunctionSpec) -> tuple[int | None, bool] | None:
        """(reserved concurrency, event source consuming) as the Lambda API has them now."""
        return None

    def prune(self, before: float) -> dict[str, int]:
        raise NotImplementedError


class InProcessTarget(Target):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def apply(self, batch: Batch) -> dict[str, int]:
        from .ingest import apply_batch

        return apply_batch(batch.to_json())

    def scenario(self) -> dict[str, Any]:
        from . import state

        return state.scenario_json()

    def prune(self, before: float) -> dict[str, int]:
        from .retention import prune

        return prune(before)

    def estate(self) -> Estate | None:
        from . import state

        return Estate.from_json(state.ESTATE) if state.ESTATE else None

    def routing(self, f: FunctionSpec) -> list[tuple[str, float]] | None:
        if not f.traffic_alias:
            return None
        from moto.awslambda.utils import get_backend

        try:
            alias = get_backend(f.account, f.region).get_alias(f.traffic_alias, f.name)
        except Exception:
            return None
        weights = {str(k): float(v) for k, v in ((alias.routing_config or {}).get("AdditionalVersionWeights") or {}).items()}
        return [(str(alias.function_version), 1.0 - sum(weights.values()))] + list(weights.items())

    def controls(self, f: FunctionSpec) -> tuple[int | None, bool] | None:
        from moto.awslambda.utils import get_backend

        try:
            backend = get_backend(f.account, f.region)
            fn = backend.get_function(f.name)
            mappings = [m for m in backend._event_source_mappings.values()
                        if m.function_arn.split(":")[6] == f.name]
        except Exception:
            return None
        reserved = fn.reserved_concurrency
        consuming = not mappings or any(m.enabled for m in mappings)
        return (int(reserved) if reserved is not None else None), consuming


class HttpTarget(Target):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._routing: dict[str, tuple[float, list[tuple[str, float]] | None]] = {}
        self._controls: dict[str, tuple[float, tuple[int | None, bool] | None]] = {}
        self._scenario: tuple[float, dict[str, Any]] = (0.0, {"name": "steady"})
        self._clients: dict[tuple[str, str], Any] = {}

    def apply(self, batch: Batch) -> dict[str, int]:
        from .ingest import encode_attrs

        data = batch.to_json()
        for queues in data["sqs"].values():
            for msgs in queues.values():
                for m in msgs:
                    m[1] = encode_attrs(m[1])
        return _post(self.endpoint, "/_sandbox/ingest", data)

    def scenario(self) -> dict[str, Any]:
        at, sc = self._scenario
        if time.monotonic() - at > 2:
            sc = _get(self.endpoint, "/_sandbox/scenario")
            self._scenario = (time.monotonic(), sc)
        return sc

    def scenario_changed(self) -> None:
        self._scenario = (float("-inf"), self._scenario[1])

    def estate(self) -> Estate | None:
        return fetch_estate(self.endpoint)

    def prune(self, before: float) -> dict[str, int]:
        return _post(self.endpoint, "/_sandbox/prune", {"before": before})

    def _live(self, cache: dict, f: FunctionSpec, read: Callable[[Any], Any]) -> Any:
        """``read(lambda client)`` for this function, kept 10 s (the generator asks every
        simulated minute); None when the sandbox cannot answer."""
        key = f"{f.account}|{f.region}|{f.name}"
        hit = cache.get(key)
        if hit and time.monotonic() - hit[0] < 10:
            return hit[1]
        from .estate import session_for

        try:
            lam = self._clients.get((f.account, f.region))
            if lam is None:
                lam = session_for(self.endpoint, f.account, f.region).client("lambda", endpoint_url=self.endpoint)
                self._clients[(f.account, f.region)] = lam
            result = read(lam)
        except Exception:
            result = None
        cache[key] = (time.monotonic(), result)
        return result

    def routing(self, f: FunctionSpec) -> list[tuple[str, float]] | None:
        if not f.traffic_alias:
            return None

        def read(lam: Any) -> list[tuple[str, float]]:
            alias = lam.get_alias(FunctionName=f.name, Name=f.traffic_alias)
            weights = {str(k): float(v) for k, v in
                       ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}).items()}
            return [(alias["FunctionVersion"], 1.0 - sum(weights.values()))] + list(weights.items())

        return self._live(self._routing, f, read)

    def controls(self, f: FunctionSpec) -> tuple[int | None, bool] | None:
        def read(lam: Any) -> tuple[int | None, bool]:
            reserved = lam.get_function_concurrency(FunctionName=f.name).get("ReservedConcurrentExecutions")
            mappings = lam.list_event_source_mappings(FunctionName=f.name).get("EventSourceMappings") or []
            return reserved, not mappings or any(m.get("State") == "Enabled" for m in mappings)

        return self._live(self._controls, f, read)


def make_target(endpoint_or_server: Any) -> Target:
    """An in-process target for a SandboxServer (or an endpoint served by this process), else HTTP."""
    from .server import SandboxServer

    if isinstance(endpoint_or_server, Target):
        return endpoint_or_server
    if isinstance(endpoint_or_server, SandboxServer):
        return InProcessTarget(endpoint_or_server.endpoint)
    endpoint = str(endpoint_or_server).rstrip("/")
    if endpoint in _LOCAL_ENDPOINTS:
        return InProcessTarget(endpoint)
    return HttpTarget(endpoint)


_LOCAL_ENDPOINTS: set[str] = set()


def register_local(endpoint: str) -> None:
    _LOCAL_ENDPOINTS.add(endpoint.rstrip("/"))


_generators: dict[tuple, Generator] = {}


def forget_generators() -> None:
    """Drop cached generator state (after a reset)."""
    _generators.clear()


def generator_for(target: Target, *, seed: int = 1, rate_scale: float = 1.0, start: float | None = None) -> Generator:
    """The generator for this target: the cached one when ``start`` continues where it stopped (warm
    log streams, bursts and iterator age carry over), else a fresh one (so any window is reproducible)."""
    estate = target.estate()
    if estate is None:
        raise RuntimeError("no estate registered with the sandbox: run `python -m sandbox seed` first")
    key = (target.endpoint, seed, rate_scale, tuple(f.arn for f in estate.functions))
    gen = _generators.get(key)
    if gen is None or (start is not None and gen.next_t != start):
        gen = _generators[key] = Generator(estate, seed=seed, rate_scale=rate_scale, scenario=target.scenario)
        gen.routing_source = target.routing
        gen.controls_source = target.controls
    return gen


def generate(endpoint_or_server: Any, *, start: datetime, minutes: int, scenario: str | None = None,
             function: str | None = None, seed: int = 1, rate_scale: float = 1.0, slice_seconds: int = 60,
             chunk_minutes: int = 60, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Generate ``minutes`` of traffic from ``start`` and write it; returns counts of what was written.

    Deterministic for a seed: a window that does not continue the previous call's window starts
    from a fresh generator. ``scenario`` None keeps the server's current scenario; a name switches
    to it first (``function`` aims it).
    """
    target = make_target(endpoint_or_server)
    if scenario is not None and target.scenario().get("name") != scenario:
        from .scenarios import activate

        activate(target.endpoint, scenario, function=function)
        target.scenario_changed()  # else the check above keeps serving the old one for its cache's life
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    t0 = int(start.timestamp()) // slice_seconds * slice_seconds
    gen = generator_for(target, seed=seed, rate_scale=rate_scale, start=t0)
    totals: dict[str, int] = {}
    batch = Batch()
    steps = int(minutes * 60 // slice_seconds)
    per_chunk = max(1, int(chunk_minutes * 60 // slice_seconds))
    # over HTTP, the next chunk is generated while the server ingests the previous one
    pool = ThreadPoolExecutor(max_workers=1) if isinstance(target, HttpTarget) else None
    pending: Future | None = None

    def collect(counts: dict[str, int]) -> None:
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v

    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of long-lived log events: cyclic GC passes would dominate the run
    try:
        for i in range(steps):
            gen.slice(t0 + i * slice_seconds, slice_seconds, batch)
            if (i + 1) % per_chunk == 0 or i == steps - 1:
                if pool is None:
                    collect(target.apply(batch))
                else:
                    if pending is not None:
                        collect(pending.result())
                    pending = pool.submit(target.apply, batch)
                batch = Batch()
                if progress:
                    progress(i + 1, steps)
        if pending is not None:
            collect(pending.result())
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        gc.freeze()  # what was written stays alive: keep it out of future collections
        if gc_was_enabled:
            gc.enable()
    return totals


def backfill(endpoint_or_server: Any, *, days: float = 1.0, seed: int = 1, rate_scale: float = 1.0,
             end: datetime | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    end = end or datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    return generate(endpoint_or_server, start=start, minutes=int(days * 1440), seed=seed, rate_scale=rate_scale,
                    progress=progress)


def run_live(endpoint_or_server: Any, *, speed: float = 1.0, seed: int = 1, rate_scale: float = 1.0,
             slice_seconds: int = 15, stop: Callable[[], bool] | None = None,
             log: Callable[[str], None] | None = None, retention_days: float | None = None) -> None:
    """Emit traffic continuously: one simulated slice every ``slice_seconds / speed`` real seconds.

    With speed 1 the simulated clock follows the wall clock, so data shows up as "now".
    ``retention_days`` drops telemetry older than that every ten simulated minutes.
    """
    target = make_target(endpoint_or_server)
    gen = generator_for(target, seed=seed, rate_scale=rate_scale)
    sim = int(time.time()) // slice_seconds * slice_seconds
    if gen.next_t is not None and abs(gen.next_t - sim) <= 120:
        sim = int(gen.next_t)  # carry on right after a backfill
    next_wall = time.monotonic()
    while not (stop and stop()):
        if retention_days and sim % 600 == 0:
            target.prune(sim - retention_days * 86400)
        counts = target.apply(gen.slice(sim, slice_seconds))
        if log:
            sc = target.scenario().get("name")
            log(f"{datetime.fromtimestamp(sim, timezone.utc):%H:%M:%S} scenario={sc} "
                + " ".join(f"{k}={v}" for k, v in counts.items()))
        sim += slice_seconds
        next_wall += slice_seconds / max(speed, 1e-6)
        while True:
            if stop and stop():
                return
            delay = next_wall - time.monotonic()
            if delay <= 0:
                break
            time.sleep(min(delay, 0.5))
