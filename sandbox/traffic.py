"""Deterministic traffic generation: one batch of consistent metrics, logs, traces, DLQ messages
and ledger rows per simulated time slice.

Randomness is derived from (seed, function, slice start); a fresh generator fed the same slices in
the same order produces exactly the same telemetry (bursts, warm log streams and iterator age carry
state from one slice to the next).
"""

from __future__ import annotations

import math
import random
import zlib
from datetime import datetime, timezone
from typing import Any, Callable

from . import payloads
from .batch import Batch
from .estate import Estate, FunctionSpec

STREAM_IDLE_S = 45 * 60


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _request_id(rng: random.Random) -> str:
    """A version-4 UUID string from the seeded generator (cheaper than uuid.UUID)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def diurnal(t: float) -> float:
    hour = (t % 86400) / 3600.0
    return 0.3 + 0.7 * (0.5 + 0.5 * math.sin(2 * math.pi * (hour - 9.0) / 24.0))


class FnState:
    def __init__(self) -> None:
        self.streams: dict[str, list[list]] = {}  # version -> [[name, last_used], ...]
        self.iterator_age = 0.0
        self.burst_until = 0.0
        self.burst_factor = 1.0
        self.pruned_at = 0.0


class Generator:
    def __init__(self, estate: Estate, *, seed: int = 1, rate_scale: float = 1.0,
                 scenario: Callable[[], dict[str, Any]] | None = None) -> None:
        self.estate = estate
        self.seed = seed
        self.rate_scale = rate_scale
        self.scenario = scenario or (lambda: {"name": "steady"})
        self.state: dict[str, FnState] = {self.key(f): FnState() for f in estate.functions}
        self.next_t: float | None = None  # where the last slice ended

    @staticmethod
    def key(f: FunctionSpec) -> str:
        return f"{f.account}|{f.region}|{f.name}"

    def rng(self, f: FunctionSpec, t: float, salt: str = "") -> random.Random:
        return random.Random(zlib.crc32(f"{self.seed}|{self.key(f)}|{int(t * 1000)}|{salt}".encode()))

    # -- scenario effects -------------------------------------------------------------------------------
    def _targets(self, sc: dict[str, Any], f: FunctionSpec) -> bool:
        fn = sc.get("function")
        if fn:
            if fn != f.name:
                return False
            if sc.get("account") and sc["account"] != f.account:
                return False
            if sc.get("region") and sc["region"] != f.region:
                return False
            return True
        default = default_target(self.estate, sc.get("name", "steady"))
        return default is not None and self.key(default) == self.key(f)

    # -- one slice ---------------------------------------------------------------------------------------
    def slice(self, t0: float, seconds: int = 60, batch: Batch | None = None) -> Batch:
        batch = batch if batch is not None else Batch()
        self.next_t = t0 + seconds
        sc = self.scenario()
        region_tot: dict[str, dict[str, float]] = {}
        for f in self.estate.functions:
            scope = f"{f.account}|{f.region}"
            tot = region_tot.setdefault(scope, {"conc": 0.0, "unreserved": 0.0, "reserved": 0.0, "prov": 0.0,
                                                "inv": 0.0, "err": 0.0, "thr": 0.0})
            self._function_slice(f, t0, seconds, sc, batch, tot)
        minute = int(t0) // 60 * 60
        for scope, tot in region_tot.items():
            ns = "AWS/Lambda"
            batch.metric(scope, ns, "ConcurrentExecutions", {}, minute, "v", [[round(tot["conc"], 2)], None])
            batch.metric(scope, ns, "UnreservedConcurrentExecutions", {}, minute, "v", [[round(tot["unreserved"], 2)], None])
            batch.metric(scope, ns, "ClaimedAccountConcurrency", {}, minute, "v",
                         [[round(tot["unreserved"] + tot["reserved"] + tot["prov"], 2)], None])
            # Invocations, Errors, Throttles and the async counts without dimensions are not written:
            # the sandbox's CloudWatch answers them as the sum over the functions (fills/metrics.py).
        return batch

    def _function_slice(self, f: FunctionSpec, t0: float, seconds: int, sc: dict[str, Any], batch: Batch,
                        tot: dict[str, float]) -> None:
        rng = self.rng(f, t0)
        st = self.state[self.key(f)]
        scope = f"{f.account}|{f.region}"
        name = sc.get("name", "steady")
        targeted = name != "steady" and self._targets(sc, f)
        minute = int(t0) // 60 * 60
        frac = seconds / 60.0

        reserved, consuming = self._controls(f)
        # how many invocations
        if f.kind == "cron":
            every = max(1, int(round(1.0 / f.rate))) if f.rate > 0 else 0
            n = 1 if every and (minute // 60) % every == 0 and (t0 % 60) < seconds else 0
        else:
            if st.burst_until <= t0 and rng.random() < 0.004 * frac:
                st.burst_until = t0 + 60 * rng.randint(2, 8)
                st.burst_factor = rng.uniform(2.0, 5.0)
            burst = st.burst_factor if st.burst_until > t0 else 1.0
            lam = f.rate * self.rate_scale * diurnal(t0) * burst * frac
            if name == "dlq-flood" and targeted:
                lam *= 3
            n = _poisson(rng, lam) if consuming else 0  # a disabled event source delivers nothing

        error_rate = f.error_rate
        cold_rate = f.cold_rate
        timeout_rate = 0.0
        versions_w = self._routing(f)
        if targeted:
            if name == "deploy-regression" and sc.get("version") and self.routing_source is None:
                versions_w = [(str(sc["version"]), 1.0)]  # no live alias to follow: assume the deploy
            elif name == "throttling":
                reserved = int(sc.get("reserved") or 1)
            elif name == "dlq-flood":
                error_rate = max(error_rate, 0.6)
            elif name == "timeouts":
                timeout_rate = 0.3
        if name == "cold-start-storm" and (targeted or not sc.get("function")):
            cold_rate = max(cold_rate, 0.5)

        # iterator age for stream consumers
        if f.kind == "stream":
            if name == "stream-lag" and targeted:
                st.iterator_age += seconds * 1000.0 * 1.5
            else:
                st.iterator_age = max(0.0, st.iterator_age * 0.5) if st.iterator_age > 2000 else rng.uniform(50, 900)

        avg_d = f.duration_ms * math.exp(f.duration_sigma ** 2 / 2)
        need = n * min(avg_d, f.timeout * 1000) / 1000.0 / seconds
        peak = need + 3.0 * math.sqrt(need) + 1.0 if n else 0.0  # arrivals bunch up: peak concurrency
        throttles = 0
        if reserved is not None and peak > reserved and n:
            ok = int(round(n * reserved / peak))
            throttles, n = n - ok, ok
        if n == 0 and throttles == 0:
            if f.kind == "stream" and st.iterator_age > 0 and name == "stream-lag" and targeted:
                batch.metric(scope, "AWS/Lambda", "IteratorAge", {"FunctionName": f.name}, minute, "v",
                             [[round(st.iterator_age, 1)], None])
            return

        # per invocation
        per_version: dict[str, dict[str, Any]] = {}
        log_group = f"/aws/lambda/{f.name}"
        group_logs = batch.logs.setdefault(scope, {}).setdefault(log_group, {})
        traces = 0
        flood = name == "dlq-flood" and targeted
        dlq_cap = 200 if flood else 5
        dlq_sent = 0
        dest_sent = 0
        mem_gb = f.memory / 1024.0
        for _ in range(n):
            version = self._pick_version(rng, versions_w)
            pv = per_version.get(version)
            if pv is None:
                pv = per_version[version] = {"n": 0, "err": 0, "cold": 0, "billed": 0, "gbs": 0.0, "to": 0,
                                             "dur": {}, "dlq": 0, "dest": 0}
            ts = t0 + rng.random() * seconds
            rid = _request_id(rng)
            stream, cold = self._stream(st, f, version, ts, rng, cold_rate)
            init = rng.lognormvariate(math.log(f.init_ms), 0.25) if cold else 0.0
            dur = rng.lognormvariate(math.log(f.duration_ms), f.duration_sigma)
            er = error_rate
            if name == "deploy-regression" and targeted and str(sc.get("version")) == version:
                er = min(0.95, max(er * 5.0, 0.35))  # the bad build
            timed_out = rng.random() < timeout_rate or dur >= f.timeout * 1000
            errored = timed_out or rng.random() < er
            if timed_out:
                dur = f.timeout * 1000.0 + rng.uniform(1, 20)
            dur = round(dur, 2)
            billed = int(math.ceil(dur + init))
            used = min(f.memory, int(f.memory * rng.uniform(0.15, 0.6)) + 30)
            kind_err = None
            if errored and not timed_out:
                kind_err = "oom" if rng.random() < 0.1 else "exception"
                if kind_err == "oom":
                    used = f.memory
            pv["n"] += 1
            pv["err"] += errored
            pv["cold"] += cold
            pv["to"] += timed_out
            pv["billed"] += billed
            pv["gbs"] += billed / 1000.0 * mem_gb
            d_key = round(dur, 1) if dur < 1000 else float(round(dur))
            pv["dur"][d_key] = pv["dur"].get(d_key, 0) + 1
            lines = payloads.invocation_log(f, version, rid, ts, dur, billed, used, init, errored, timed_out,
                                            kind_err, rng)
            group_logs.setdefault(stream, []).extend(lines)
            # traces: a couple per slice, errors preferred
            if traces < 2 and ((errored and traces == 0) or rng.random() < min(0.5, 0.5 / max(n * frac, 1))):
                batch.traces.setdefault(scope, []).extend(
                    payloads.trace_segments(f, version, rid, ts, dur, init, errored and not timed_out,
                                            timed_out, rng))
                traces += 1
            # failed events land in DLQs / destinations
            # only a share outlives the retries (all in a dlq-flood; no draw at share 1: replays unchanged)
            if (errored and f.kind in ("sqs", "async") and dlq_sent < dlq_cap
                    and (flood or f.dead_letter_share >= 1.0 or rng.random() < f.dead_letter_share)):
                if f.kind == "sqs" and f.dlq:
                    body, attrs = payloads.sqs_dlq_message(f, rid, ts, rng)
                    batch.sqs.setdefault(scope, {}).setdefault(f.dlq, []).append([body, attrs, ts])
                    pv["dlq"] += 1
                    dlq_sent += 1
                elif f.kind == "async":
                    event = payloads.async_event(f, rid, ts, rng)
                    if f.dlq:
                        body, attrs = payloads.lambda_dlq_message(f, rid, event, timed_out, rng)
                        batch.sqs.setdefault(scope, {}).setdefault(f.dlq, []).append([body, attrs, ts])
                        pv["dlq"] += 1
                        dlq_sent += 1
                    if f.on_failure:
                        body = payloads.destination_record(f, rid, version, ts, event, timed_out)
                        batch.sqs.setdefault(scope, {}).setdefault(f.on_failure, []).append([body, {}, ts])
                        pv["dest"] += 1
                        dest_sent += 1

        # metrics per function, alias and executed version
        ns = "AWS/Lambda"
        inv = sum(p["n"] for p in per_version.values())
        err = sum(p["err"] for p in per_version.values())
        hist: dict[float, int] = {}
        for p in per_version.values():
            for k, c in p["dur"].items():
                hist[k] = hist.get(k, 0) + c
        conc = round(inv * avg_d / 1000.0 / seconds + (0.5 if inv else 0), 2)
        fn_dims = {"FunctionName": f.name}
        dim_sets = [(fn_dims, inv, err, throttles, hist)]
        if f.traffic_alias:
            res = {"FunctionName": f.name, "Resource": f"{f.name}:{f.traffic_alias}"}
            dim_sets.append((res, inv, err, throttles, hist))
            for v, p in per_version.items():
                dim_sets.append(({**res, "ExecutedVersion": v}, p["n"], p["err"], 0, p["dur"]))
        for dims, i, e, th, h in dim_sets:
            if i:
                batch.metric(scope, ns, "Invocations", dims, minute, "s", [i, i, 1.0, 1.0])
                batch.metric(scope, ns, "Errors", dims, minute, "s", [i, e, 0.0, 1.0 if e else 0.0])
                batch.metric(scope, ns, "Duration", dims, minute, "v", [list(h.keys()), list(h.values())])
            if th or i:
                batch.metric(scope, ns, "Throttles", dims, minute, "s", [max(i + th, 1), th, 0.0, 1.0 if th else 0.0])
        batch.metric(scope, ns, "ConcurrentExecutions", fn_dims, minute, "v", [[conc], None])
        if f.kind == "stream":
            batch.metric(scope, ns, "IteratorAge", fn_dims, minute, "v", [[round(st.iterator_age, 1)], None])
        if f.kind == "async" and inv:
            age = rng.uniform(20, 400) * (20 if name == "dlq-flood" and targeted else 1)
            batch.metric(scope, ns, "AsyncEventsReceived", fn_dims, minute, "s", [inv, inv, 1.0, 1.0])
            batch.metric(scope, ns, "AsyncEventAge", fn_dims, minute, "v", [[round(age, 1)], None])
            batch.metric(scope, ns, "AsyncEventsDropped", fn_dims, minute, "s", [inv, 0.0, 0.0, 0.0])
            if f.dlq:
                batch.metric(scope, ns, "DeadLetterErrors", fn_dims, minute, "s", [inv, 0.0, 0.0, 0.0])
            if f.on_failure:
                batch.metric(scope, ns, "DestinationDeliveryFailures", fn_dims, minute, "s", [inv, 0.0, 0.0, 0.0])
        if f.provisioned and f.traffic_alias and inv:
            res = {"FunctionName": f.name, "Resource": f"{f.name}:{f.traffic_alias}"}
            util = min(1.0, conc / f.provisioned)
            spill = max(0, int(inv * max(0.0, 1 - f.provisioned / max(conc, 1e-9))))
            batch.metric(scope, ns, "ProvisionedConcurrentExecutions", res, minute, "v", [[min(conc, f.provisioned)], None])
            batch.metric(scope, ns, "ProvisionedConcurrencyUtilization", res, minute, "v", [[round(util, 3)], None])
            batch.metric(scope, ns, "ProvisionedConcurrencySpilloverInvocations", res, minute, "s", [inv, spill, 0.0, 1.0])
        tot["conc"] += conc
        tot["inv"] += inv
        tot["err"] += err
        tot["thr"] += throttles
        if reserved is not None:
            tot["reserved"] += reserved
        else:
            tot["unreserved"] += conc
        if f.provisioned:
            tot["prov"] += f.provisioned
        for q in (f.dlq, f.on_failure):
            if q:
                batch.sqs_metrics.setdefault(scope, []).append([q, minute])

        for v, p in per_version.items():
            batch.ledger.append({"account": f.account, "region": f.region, "function": f.name, "minute": minute,
                                 "version": v, "invocations": p["n"], "errors": p["err"], "cold_starts": p["cold"],
                                 "billed_duration_ms": p["billed"], "billed_gb_s": p["gbs"],
                                 "dlq_messages_sent": p["dlq"], "destination_messages_sent": p["dest"],
                                 "timeouts": p["to"], "throttles": 0})
        if throttles:
            v0 = versions_w[0][0]
            batch.ledger.append({"account": f.account, "region": f.region, "function": f.name, "minute": minute,
                                 "version": v0, "throttles": throttles})

    routing_source: Callable[[FunctionSpec], list[tuple[str, float]] | None] | None = None
    # Live (reserved concurrency, event source enabled) as the Lambda API says, so throttling a
    # function or disabling its queue's mapping through the API changes the traffic.
    controls_source: Callable[[FunctionSpec], tuple[int | None, bool] | None] | None = None

    def _controls(self, f: FunctionSpec) -> tuple[int | None, bool]:
        live = self.controls_source(f) if self.controls_source is not None else None
        return live if live is not None else (f.reserved, True)

    def _routing(self, f: FunctionSpec) -> list[tuple[str, float]]:
        if self.routing_source is not None:
            live = self.routing_source(f)
            if live:
                return live
        if not f.traffic_alias:
            return [("$LATEST", 1.0)]
        conf = f.aliases.get(f.traffic_alias) or {}
        weights = {str(k): float(v) for k, v in (conf.get("weights") or {}).items()}
        main = str(conf.get("version", "$LATEST"))
        return [(main, 1.0 - sum(weights.values()))] + list(weights.items())

    @staticmethod
    def _pick_version(rng: random.Random, versions_w: list[tuple[str, float]]) -> str:
        if len(versions_w) == 1:
            return versions_w[0][0]
        r = rng.random()
        acc = 0.0
        for v, w in versions_w:
            acc += w
            if r < acc:
                return v
        return versions_w[-1][0]

    def _stream(self, st: FnState, f: FunctionSpec, version: str, ts: float, rng: random.Random,
                cold_rate: float) -> tuple[str, bool]:
        pool = st.streams.setdefault(version, [])
        if ts - st.pruned_at >= 60:
            st.pruned_at = ts
            for v_pool in st.streams.values():
                v_pool[:] = [s for s in v_pool if ts - s[1] < STREAM_IDLE_S]
        cold = not pool or rng.random() < cold_rate
        if cold:
            day = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y/%m/%d")
            name = f"{day}/[{version}]{rng.getrandbits(128):032x}"
            pool.append([name, ts])
            return name, True
        s = pool[rng.randrange(len(pool))]
        s[1] = max(s[1], ts)
        return s[0], False


def default_target(estate: Estate, scenario: str) -> FunctionSpec | None:
    """The function a scenario hits when none is named."""
    prefer = {
        "deploy-regression": lambda f: f.kind == "api" and f.traffic_alias and f.rate > 0,
        "throttling": lambda f: f.kind in ("api", "sqs") and f.rate >= 10,
        "dlq-flood": lambda f: f.kind == "sqs" and f.dlq,
        "timeouts": lambda f: f.kind == "api" and f.rate > 0,
        "stream-lag": lambda f: f.kind == "stream",
        "cold-start-storm": lambda f: f.rate > 0,
    }.get(scenario)
    if prefer is None:
        return None
    for f in estate.functions:
        if prefer(f):
            return f
    return None
