"""One evaluation tick: every enabled rule × every target in its scope, judged on stored
telemetry, each state change written as an AlertFlip in the transaction that moves AlertState.

1. Read once for the whole tick (ops.alerts.sources): the live functions with their
   known-until, their minute rows over the longest N any rule needs, and — only when a rule
   asks for them — DLQ depth, today's cost, region headroom and poll health. A handful of
   queries whatever the number of functions.
2. Per rule: pick the targets in its scope, build its last N one-minute values per target
   (ending at that target's known-until, so a poll that has not happened yet is not "quiet"),
   and judge them with the state machine (ops.alerts.judge).
3. Per rule, in one transaction: insert the states seen for the first time (ON CONFLICT DO
   NOTHING: of two evaluators, the one whose insert lands writes the flip); move changed
   states with an UPDATE conditional on the state read (``… AND state = <old>``), writing a
   flip only for the rows it moved — two evaluators racing produce one flip; refresh the
   values of unchanged ones. Targets that left the scope (a gone function, an edited scope)
   while pending or firing go back to ok / resolved.
4. A rule that fails is recorded on the tick and the others go on; the tick row says when,
   how long, up to which data minute, and how many rules, states and flips.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from ops.alerts import sources
from ops.alerts.judge import FIRING, OK, PENDING, RESOLVED, Criteria, Verdict, judge
from ops.models import AlertFlip, AlertRule, AlertState, AlertTick
from ops.models.choices import AlertScope, AlertSignal
from ops.rules.signals import BY_KEY as SIGNALS_BY_KEY
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.telemetry import reads_without_jit

log = logging.getLogger(__name__)

DLQ_SIGNALS = {AlertSignal.DLQ_DEPTH.value: 0, AlertSignal.DLQ_NEW_MESSAGES.value: 1}  # → dlq_minutes index
COST_SIGNALS = {AlertSignal.DAILY_COST.value}
SCOPE_SIGNALS = {AlertSignal.REGION_HEADROOM.value, AlertSignal.POLLER_FAILING.value}  # not about one function
# Per-function signals read from minute rows: the Record column and the volume column, from the
# signal's own declaration (ops.rules.signals), so a rule reads what the page reads.
MINUTE_SIGNALS = {
    key: (s.column, s.volume) for key, s in SIGNALS_BY_KEY.items()
    if key not in DLQ_SIGNALS and key not in COST_SIGNALS
}


@dataclass
class TickResult:
    flips: int = 0
    states: int = 0
    duration_ms: int = 0
    rules: int = 0
    data_until: datetime | None = None
    errors: list[str] = field(default_factory=list)
    tick_id: int | None = None


@dataclass(frozen=True)
class Judged:
    function_id: int | None
    scope_key: str
    at: datetime  # the end of the newest window (data time)
    verdict: Verdict

    @property
    def key(self) -> tuple[int | None, str]:
        return (self.function_id, self.scope_key)


@dataclass
class TickData:
    """What step 1 read (shared by every rule of the tick)."""

    functions: list[sources.FunctionTarget] = field(default_factory=list)
    dlq: dict[int, tuple[list, list]] = field(default_factory=dict)
    cost: dict[int, list] = field(default_factory=dict)
    regions: list[sources.ScopeTarget] = field(default_factory=list)
    pollers: list[sources.ScopeTarget] = field(default_factory=list)
    dlq_n: int = 0
    cost_n: int = 0
    concurrency_limit: int = 0


def tick_data(rules: list[AlertRule], *, now: datetime) -> TickData:
    def longest(keys) -> int:
        return max((r.windows_n for r in rules if r.signal in keys), default=0)

    data = TickData(concurrency_limit=account_concurrency_limit())
    fn_keys = set(MINUTE_SIGNALS) | set(DLQ_SIGNALS) | COST_SIGNALS
    if any(r.signal in fn_keys for r in rules):
        data.functions = sources.function_targets()
        sources.function_minutes(data.functions, n=longest(set(MINUTE_SIGNALS) | COST_SIGNALS))
    data.dlq_n = longest(DLQ_SIGNALS)
    if data.dlq_n:
        data.dlq = sources.dlq_minutes(data.functions, n=data.dlq_n)
    data.cost_n = longest(COST_SIGNALS)
    if data.cost_n:
        data.cost = sources.cost_today(data.functions, n=data.cost_n)
    if n := longest({AlertSignal.REGION_HEADROOM.value}):
        data.regions = sources.region_minutes(n=n)
    if n := longest({AlertSignal.POLLER_FAILING.value}):
        data.pollers = sources.poller_values(n=n, now=now)
    return data


def in_scope(rule: AlertRule, *, function_id: int | None, account_id: int, region: str, tags: dict | None) -> bool:
    scope = rule.scope
    if scope == AlertScope.ALL:
        return True
    if scope == AlertScope.ACCOUNT:
        return account_id == rule.account_id
    if scope == AlertScope.REGION:
        return account_id == rule.account_id and region == rule.region
    if scope == AlertScope.FUNCTION:
        return function_id is not None and function_id == rule.function_id
    if scope == AlertScope.TAG:
        if tags is None or not rule.tag_key or rule.tag_key not in tags:
            return False
        return not rule.tag_value or str(tags[rule.tag_key]) == rule.tag_value
    return False


def rule_series(rule: AlertRule, data: TickData) -> list[tuple[int | None, str, datetime, list, list | None]]:
    """(function_id, scope_key, known_until, values, volumes) per target of the rule, values
    oldest first, ``windows_n`` of them."""
    n = rule.windows_n
    out = []
    if rule.signal in SCOPE_SIGNALS:
        for t in data.regions if rule.signal == AlertSignal.REGION_HEADROOM else data.pollers:
            if in_scope(rule, function_id=None, account_id=t.account_id, region=t.region, tags=None):
                out.append((None, t.scope_key, t.known_until, t.values[-n:], None))
        return out
    for t in data.functions:
        if t.known_until is None or not in_scope(rule, function_id=t.function_id, account_id=t.account_id,
                                                 region=t.region, tags=t.tags):
            continue
        if rule.signal in DLQ_SIGNALS:
            series = data.dlq.get(t.function_id)
            if series is None:
                continue  # no DLQ: nothing to watch
            out.append((t.function_id, "", t.known_until, series[DLQ_SIGNALS[rule.signal]][-n:], None))
        elif rule.signal in COST_SIGNALS:
            out.append((t.function_id, "", t.known_until, data.cost.get(t.function_id, [None] * n)[-n:], None))
        else:
            column, volume = MINUTE_SIGNALS[rule.signal]
            recs = [t.record_at(ts, concurrency_limit=data.concurrency_limit) for ts in t.window_starts(n)]
            values = [None if r is None else getattr(r, column) for r in recs]
            volumes = [None if r is None or not volume else getattr(r, volume) for r in recs] if volume else None
            out.append((t.function_id, "", t.known_until, values, volumes))
    return out


def _states_of(rules: list[AlertRule]) -> dict[int, dict[tuple[int | None, str], tuple]]:
    """Existing states per rule: key → (id, state, value, breaching) (one query)."""
    out: dict[int, dict] = {r.pk: {} for r in rules}
    for sid, rule_id, fid, scope_key, state, value, breaching in AlertState.objects.filter(rule__in=rules).values_list(
            "id", "rule_id", "function_id", "scope_key", "state", "value", "breaching"):
        out[rule_id][(fid, scope_key)] = (sid, state, value, breaching)
    return out


def _flip(rule: AlertRule, j: Judged, old: str, new: str, value: float | None) -> AlertFlip:
    return AlertFlip(rule=rule, rule_name=rule.name, function_id=j.function_id, scope_key=j.scope_key,
                     old_state=old, new_state=new, at=j.at, value=value, threshold=rule.threshold,
                     severity=rule.severity)


def rule_write(rule: AlertRule, judged: list[Judged], existing: dict, *, now: datetime) -> int:
    """Step 3 for one rule (one transaction). Returns the flips written."""
    flips: list[AlertFlip] = []
    with transaction.atomic(), connection.cursor() as cur:
        # The planner over-estimates unnest joins and would JIT-compile them (half a second a
        # statement on this machine for a few milliseconds of work).
        cur.execute("SET LOCAL jit = off")
        fresh = [j for j in judged if j.key not in existing]
        if fresh:
            cur.execute(
                """
INSERT INTO ops_alertstate (rule_id, function_id, scope_key, state, since, value, breaching, evaluated_until,
                            evaluated_at)
SELECT %(rule)s, v.fid, v.key, v.state, v.at, v.value, v.breaching, v.at, %(now)s
FROM unnest(%(fids)s::int[], %(keys)s::text[], %(states)s::text[], %(ats)s::timestamptz[], %(values)s::float8[],
            %(breaching)s::int[]) AS v(fid, key, state, at, value, breaching)
ON CONFLICT DO NOTHING
RETURNING function_id, scope_key
""",
                {"rule": rule.pk, "now": now, "fids": [j.function_id for j in fresh], "keys": [j.scope_key for j in fresh],
                 "states": [j.verdict.state for j in fresh], "ats": [j.at for j in fresh],
                 "values": [j.verdict.value for j in fresh], "breaching": [j.verdict.breaching for j in fresh]},
            )
            won = set(cur.fetchall())
            flips += [_flip(rule, j, OK, j.verdict.state, j.verdict.value) for j in fresh
                      if j.key in won and j.verdict.state != OK]
        moved = [(j, existing[j.key]) for j in judged if j.key in existing and existing[j.key][1] != j.verdict.state]
        # Targets that left the scope while pending or firing: back to ok / resolved.
        seen = {j.key for j in judged}
        gone = [(key, st) for key, st in existing.items() if key not in seen and st[1] in (PENDING, FIRING)]
        changes = [(st[0], st[1], j.verdict.state, j.at, j.verdict.value, j.verdict.breaching, j) for j, st in moved]
        for (fid, skey), st in gone:
            j = Judged(function_id=fid, scope_key=skey, at=now, verdict=Verdict(
                state=RESOLVED if st[1] == FIRING else OK, breaching=0, value=None))
            changes.append((st[0], st[1], j.verdict.state, now, None, 0, j))
        if changes:
            cur.execute(
                """
UPDATE ops_alertstate s
SET state = v.new, since = v.at, value = v.value, breaching = v.breaching, evaluated_until = v.at,
    evaluated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(olds)s::text[], %(news)s::text[], %(ats)s::timestamptz[], %(values)s::float8[],
            %(breaching)s::int[]) AS v(id, old, new, at, value, breaching)
WHERE s.id = v.id AND s.state = v.old
RETURNING s.id
""",
                {"now": now, "ids": [c[0] for c in changes], "olds": [c[1] for c in changes],
                 "news": [c[2] for c in changes], "ats": [c[3] for c in changes], "values": [c[4] for c in changes],
                 "breaching": [c[5] for c in changes]},
            )
            claimed = {row[0] for row in cur.fetchall()}
            flips += [_flip(rule, c[6], c[1], c[2], c[4]) for c in changes if c[0] in claimed]
        # Unchanged states are rewritten only when their value or breaching count moved: on a
        # calm estate most are constant (0 throttles, 0 drops), and rewriting thousands of
        # identical rows a minute is most of a tick's cost. The tick row's data_until says until
        # when every state was judged.
        same = [(existing[j.key][0], j) for j in judged if j.key in existing and existing[j.key][1] == j.verdict.state
                and (existing[j.key][2] != j.verdict.value or existing[j.key][3] != j.verdict.breaching)]
        if same:
            cur.execute(
                """
UPDATE ops_alertstate s
SET value = v.value, breaching = v.breaching, evaluated_until = v.at, evaluated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(ats)s::timestamptz[], %(values)s::float8[],
            %(breaching)s::int[]) AS v(id, state, at, value, breaching)
WHERE s.id = v.id AND s.state = v.state
""",
                {"now": now, "ids": [sid for sid, _ in same], "states": [j.verdict.state for _, j in same],
                 "ats": [j.at for _, j in same], "values": [j.verdict.value for _, j in same],
                 "breaching": [j.verdict.breaching for _, j in same]},
            )
        if flips:
            AlertFlip.objects.bulk_create(flips)
    return len(flips)


def rule_judge(rule: AlertRule, data: TickData, existing: dict) -> list[Judged]:
    criteria = Criteria.of(rule)
    out = []
    for fid, skey, at, values, volumes in rule_series(rule, data):
        current = existing.get((fid, skey), (None, OK, None))[1]
        out.append(Judged(function_id=fid, scope_key=skey, at=at, verdict=judge(current, values, volumes, criteria)))
    return out


def alerts_evaluate(*, now: datetime | None = None) -> TickResult:
    """One tick (see the module docstring). Never raises for a rule's failure: it is recorded."""
    now = now or timezone.now()
    t0 = time.monotonic()
    result = TickResult()
    tick = AlertTick.objects.create(started_at=now)
    result.tick_id = tick.pk
    try:
        rules = list(AlertRule.objects.filter(enabled=True).order_by("id"))
        result.rules = len(rules)
        with reads_without_jit():
            data = tick_data(rules, now=now)
            states = _states_of(rules)
        for rule in rules:
            try:
                judged = rule_judge(rule, data, states[rule.pk])
                result.flips += rule_write(rule, judged, states[rule.pk], now=now)
                result.states += len(judged)
                # Poll health is judged on the wall clock, not on a data minute.
                if rule.signal != AlertSignal.POLLER_FAILING and judged:
                    newest = max(j.at for j in judged)
                    result.data_until = max(result.data_until, newest) if result.data_until else newest
            except Exception as exc:  # noqa: BLE001 - one rule's fault must not stop the others
                log.exception("alert rule %s failed to evaluate", rule.pk)
                result.errors.append(f"rule {rule.pk} ({rule.name}): {type(exc).__name__}: {exc}"[:500])
        # A rule disabled while pending or firing: its targets go back to ok / resolved (the
        # incident closes) rather than staying firing forever.
        for rule in AlertRule.objects.filter(enabled=False, states__state__in=[PENDING, FIRING]).distinct():
            try:
                result.flips += rule_write(rule, [], _states_of([rule])[rule.pk], now=now)
            except Exception as exc:  # noqa: BLE001
                log.exception("alert rule %s failed to stand down", rule.pk)
                result.errors.append(f"rule {rule.pk} ({rule.name}): {type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # noqa: BLE001 - the reads failed: record it on the tick
        log.exception("alert tick failed")
        result.errors.append(f"tick: {type(exc).__name__}: {exc}"[:500])
    result.duration_ms = int((time.monotonic() - t0) * 1000)
    AlertTick.objects.filter(pk=tick.pk).update(
        finished_at=now + timedelta(milliseconds=result.duration_ms), data_until=result.data_until, rules=result.rules,
        states=result.states, flips=result.flips, duration_ms=result.duration_ms, error="\n".join(result.errors))
    return result
