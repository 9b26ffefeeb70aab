"""Traces: X-Ray trace summaries → the traces on-call needs first → stored traces, segments, calls.

X-Ray bills every trace scanned and retrieved, and an estate emits far more traces than anyone
reads, so a run samples on purpose. Per account×region:
1. the window runs from the cursor minus TRACES_LOOKBACK_SECONDS (segments land late and traces
   finish late) to now — TRACES_INITIAL_BACKFILL_MINUTES on the first run — and is at most 6 h
   (GetTraceSummaries' own limit; a scope further behind catches up 6 h per run);
2. GetTraceSummaries is asked tier by tier, worst first (TIERS: faults, errors and throttles;
   the slowest; cold starts; then any), each at most TRACES_MAX_SUMMARY_PAGES pages; a tier is
   not asked once the tiers before it already fill the budget;
3. candidates are summaries of this scope's known functions (by ARN, else name) that are not
   stored yet, or stored while still in progress; within a tier the slowest come first;
4. the first TRACES_PER_CYCLE of them are fetched with BatchGetTraces (5 ids a call), parsed
   (ops.pollers.traces.parse: pure, bounded) and stored one transaction per trace
   (ops.pollers.traces.store: upsert on the trace id, segments and calls replaced);
5. segments that cannot be read, and traces past the size cap, are quarantined with their reason;
   the rest of the trace and of the run is stored;
6. the cursor moves to the window's end once every tier asked was read to its end; a transient
   failure keeps it, so the next run reads the window again (stored traces are not fetched twice).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ops.aws import xray as aws_xray
from ops.aws.errors import AwsError
from ops.models import Function, QuarantineReason, Trace
from ops.pollers.base import PollContext
from ops.pollers.quarantine import Item, quarantine_add
from ops.pollers.rows import scope_functions
from ops.pollers.traces.cursor import TracesCursor
from ops.pollers.traces.parse import trace_parse
from ops.pollers.traces.store import trace_store


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


@dataclass(frozen=True)
class Tier:
    name: str
    expression: str


def tiers() -> list[Tier]:
    """What on-call needs first. Cold starts: the sandbox and Powertools annotate them
    (``cold_start`` / ``ColdStart``); X-Ray has no filter on a subsegment's name."""
    slow_s = settings.TRACES_SLOW_MS / 1000.0
    return [
        Tier("faults and errors", "fault = true OR error = true OR throttle = true"),
        Tier("slow", f"responsetime >= {slow_s:g}"),
        Tier("cold starts", "annotation.cold_start = true OR annotation.ColdStart = true"),
        Tier("any", ""),
    ]


def _unqualified(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) >= 7 and parts[5] == "function" else arn


class _Functions:
    def __init__(self, functions: list[Function]) -> None:
        self.by_arn = {fn.arn: fn for fn in functions}
        self.by_name = {fn.name: fn for fn in functions}

    def match(self, arns, names) -> Function | None:
        for arn in arns:
            fn = self.by_arn.get(_unqualified(arn))
            if fn is not None:
                return fn
        for name in names:
            fn = self.by_name.get(name)
            if fn is not None:
                return fn
        return None


def traces_poll(ctx: PollContext) -> None:
    at = now()
    cursor = TracesCursor.from_json(ctx.cursor, warn=ctx.warn)
    lookback = timedelta(seconds=settings.TRACES_LOOKBACK_SECONDS)
    if cursor.until is None:
        start = at - timedelta(minutes=settings.TRACES_INITIAL_BACKFILL_MINUTES)
    else:
        start = min(cursor.until, at) - lookback
    end = min(at, start + aws_xray.MAX_WINDOW)
    if end <= start:
        return
    known = _Functions(scope_functions(ctx, at))
    if not known.by_arn:
        ctx.cursor = TracesCursor(until=end).to_json()
        ctx.data_until = end
        return
    budget = settings.TRACES_PER_CYCLE
    deadline = time.monotonic() + settings.POLL_RUN_SECONDS

    # 2–3. Candidates, worst tier first.
    candidates: dict[str, tuple[int, Function]] = {}
    complete = True
    first_tier_ids: set[str] = set()
    for rank, tier in enumerate(tiers()):
        if len(candidates) >= budget:
            break
        try:
            page = aws_xray.trace_summaries(
                ctx.scope, start=start, end=end, filter_expression=tier.expression,
                max_pages=settings.TRACES_MAX_SUMMARY_PAGES,
            )
        except AwsError as err:
            if err.permanent and err.code not in ("InvalidRequestException", "ValidationException"):
                raise
            # A transient failure (or a filter this endpoint refuses): the other tiers still count.
            complete = False
            ctx.warn(f"GetTraceSummaries ({tier.name}) {err.code}: {err.message[:200]}; window re-read next run")
            continue
        if not page.complete:
            ctx.warn(f"{tier.name}: more than {page.pages} pages of trace summaries; the rest are not read this run")
        fresh = _not_stored(s.trace_id for s in page.summaries)
        for s in sorted(page.summaries, key=lambda s: -(s.response_s or s.duration_s or 0.0)):
            if s.trace_id in candidates or s.trace_id not in fresh:
                continue
            fn = known.match(s.resource_arns, s.service_names)
            if fn is None:
                continue  # a trace of something that is not a known function of this scope
            candidates[s.trace_id] = (rank, fn)
            if rank == 0:
                first_tier_ids.add(s.trace_id)
    chosen = list(candidates.items())[:budget]
    left_errors = len(first_tier_ids - {tid for tid, _ in chosen})
    if left_errors:
        ctx.shortfall(
            f"{left_errors} fault/error trace(s) over the budget of {budget} (TRACES_PER_CYCLE) "
            "were not fetched this run"
        )

    # 4–5. Fetch, parse, store.
    fetched_at = timezone.now()
    unprocessed = 0
    for i in range(0, len(chosen), 25):
        if time.monotonic() > deadline:
            ctx.shortfall(f"time budget used up; {len(chosen) - i} chosen trace(s) go next run")
            complete = False
            break
        chunk = dict(chosen[i : i + 25])
        try:
            batch = aws_xray.batch_get_traces(ctx.scope, list(chunk))
        except AwsError as err:
            if err.permanent:
                raise
            ctx.warn(f"BatchGetTraces {err.code}; {len(chunk)} trace(s) fetched next run")
            complete = False
            continue
        unprocessed += len(batch.unprocessed)
        refused: list[Item] = []
        for raw in batch.traces:
            fallback = chunk.get(raw.trace_id, (0, None))[1]
            parsed, bad = trace_parse(
                raw.trace_id,
                [(s.segment_id, s.document) for s in raw.segments],
                max_nodes=settings.TRACE_MAX_SUBSEGMENTS,
            )
            refused += [
                Item(reason=b.reason, key=b.key, where=raw.trace_id, detail=b.detail, raw=b.raw, at=fetched_at)
                for b in bad
            ]
            if parsed is None:
                continue
            fn = known.match(parsed.function_arns, parsed.function_names) or fallback
            if fn is None:
                continue
            why = trace_store(parsed=parsed, function=fn, fetched_at=fetched_at)
            if why:
                refused.append(
                    Item(reason=QuarantineReason.DB_REFUSED, key=raw.trace_id, where=fn.name, detail=why,
                         raw=raw.trace_id, at=fetched_at)
                )
                continue
            ctx.items += 1
        if refused:
            quarantine_add(ctx, refused)
    if unprocessed:
        ctx.warn(f"BatchGetTraces left {unprocessed} trace id(s) unprocessed; asked again next run")

    # 6. The cursor.
    if complete and not unprocessed:
        ctx.cursor = TracesCursor(until=end).to_json()
        ctx.data_until = end
    else:
        ctx.data_until = cursor.until


def _not_stored(trace_ids) -> set[str]:
    """Of ``trace_ids``, those not stored yet or stored while still in progress."""
    ids = set(trace_ids)
    done: set[str] = set()
    for chunk in _chunks(sorted(ids), 1000):
        done |= set(Trace.objects.filter(trace_id__in=chunk, in_progress=False).values_list("trace_id", flat=True))
    return ids - done


def _chunks(items: list[str], n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]
