"""What every poller shares: one run per (source, scope), a status row, errors that never escape.

A run:
1. takes a Postgres advisory lock for (source, account, region) — a second worker that gets
   the same job while the first still runs skips it instead of doing the work twice;
2. calls the poller's work function with a context (AWS scope, cursor, warnings);
3. counts the outcome of every AWS call the work makes (ops.aws.outcomes): a poller swallows
   a transient failure of one call and re-reads that window next run, so the run returning
   normally does not mean it read anything;
4. records the outcome on the PollStatus row: success with items and duration (and, when some
   calls failed or the poller said it fell short, why — the state is then degraded), or the AWS
   error code and message. A run whose every AWS call failed is a failure, not a success. The
   cursor is saved when the work returned, after its rows committed;
5. records the state ops.pollers.health judges from the row, and since when, when it changed.
Permanent AWS errors (AccessDenied, not found) are recorded and not retried; transient ones are
recorded and re-raised as TransientPollError so the Celery task can retry with backoff.
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from django.db import connection
from django.utils import timezone

from ops.aws import outcomes
from ops.aws.client import Scope
from ops.aws.errors import AwsError
from ops.models import Account, PollStatus
from ops.pollers.health import poll_health, source_cadence_s

log = logging.getLogger(__name__)

MAX_WARNINGS = 20


class TransientPollError(Exception):
    """The run failed for a reason that may pass (throttling, 5xx, timeouts)."""


@dataclass
class PollContext:
    account: Account
    region: str
    status: PollStatus
    scope: Scope
    cursor: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    items: int = 0
    # Why this run read less than it was due to (first reason), set through shortfall().
    short: str = ""
    # The poller may say up to when its data is complete; a run that does not is taken to have
    # read everything up to its start.
    data_until: datetime | None = None

    def warn(self, message: str) -> None:
        log.warning("%s %s/%s: %s", self.status.source, self.account.name, self.region, message)
        self.warnings.append(message[:500])

    def shortfall(self, message: str) -> None:
        """A warning that also means the data may lag (a statistic not read, work left over):
        the run still succeeds, and its state is degraded."""
        self.warn(message)
        self.short = self.short or message[:500]


@dataclass(frozen=True)
class PollOutcome:
    ran: bool
    ok: bool
    items: int = 0
    error_code: str = ""
    warnings: tuple[str, ...] = ()


def account_scope(account: Account, region: str) -> Scope:
    return Scope(account_id=account.account_id, region=region, role_arn=account.role_arn, external_id=account.external_id)


def _lock_key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Session-level, non-blocking: yields False when another session holds it."""
    key = _lock_key(name)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cur.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])


def poll_run(
    *, source: str, account: Account, region: str, work: Callable[[PollContext], None], cadence_s: int | None = None
) -> PollOutcome:
    """Run ``work`` for one scope (see the module's docstring). ``cadence_s`` is how often it is
    meant to run (default: the ``<SOURCE>_POLL_SECONDS`` setting); the state is judged by it."""
    with advisory_lock(f"poll:{source}:{account.pk}:{region}") as got:
        if not got:
            log.info("%s %s/%s already running elsewhere; skipped", source, account.name, region)
            return PollOutcome(ran=False, ok=False)
        status, _ = PollStatus.objects.get_or_create(source=source, account=account, region=region)
        started = timezone.now()
        status.last_started_at = started
        status.cadence_s = int(cadence_s or source_cadence_s(source))
        status.save(update_fields=["last_started_at", "cadence_s"])
        stored = status.cursor
        ctx = PollContext(
            account=account,
            region=region,
            status=status,
            scope=account_scope(account, region),
            # The poller's codec checks the shape inside; only an object can even be handed to it.
            cursor=dict(stored) if isinstance(stored, dict) else {},
        )
        if not isinstance(stored, dict) and stored not in (None, ""):
            ctx.warn(f"stored cursor was a {type(stored).__name__}, not an object; this run starts afresh")
        t0 = time.monotonic()
        with outcomes.track() as calls:
            try:
                work(ctx)
            except AwsError as err:
                _record_failure(status, ctx, calls, err.code, str(err), t0, permanent=err.permanent)
                _recheck_permissions(account, region, err.code)
                if err.transient:
                    raise TransientPollError(str(err)) from err
                return PollOutcome(ran=True, ok=False, error_code=err.code, warnings=tuple(ctx.warnings))
            except Exception as exc:  # noqa: BLE001 - a poller never crashes; the status page says why
                log.exception("%s %s/%s failed", source, account.name, region)
                _record_failure(status, ctx, calls, type(exc).__name__, str(exc), t0, permanent=False)
                return PollOutcome(ran=True, ok=False, error_code=type(exc).__name__, warnings=tuple(ctx.warnings))
        status.cursor = ctx.cursor  # the work returned: its cursor matches what it committed
        if calls.failed and not calls.ok:
            # Every call failed and the poller carried on (it re-reads next run): nothing was read.
            code = calls.main_code
            _record_failure(status, ctx, calls, code, f"all {calls.failed} AWS call(s) failed; last: {calls.last_message}",
                            t0, permanent=False, extra_fields=["cursor"])
            return PollOutcome(ran=True, ok=False, error_code=code, warnings=tuple(ctx.warnings))
        now = timezone.now()
        status.last_success_at = now
        status.last_duration_ms = int((time.monotonic() - t0) * 1000)
        status.items = ctx.items
        status.consecutive_failures = 0
        status.warnings = _merge_warnings(status.warnings, ctx.warnings, now)
        status.last_calls, status.last_failed_calls = calls.calls, calls.failed
        status.data_until = ctx.data_until or started
        fields = ["last_success_at", "last_duration_ms", "items", "consecutive_failures", "cursor", "warnings",
                  "last_calls", "last_failed_calls", "data_until", "last_shortfall"]
        if calls.failed:
            # Some calls failed: the run counts (it read something), its errors are shown; the
            # error is stamped with the success's own time, so it is not "newer" than it.
            code = calls.main_code
            status.last_shortfall = (f"{calls.failed} of {calls.calls} AWS calls failed ({code}); "
                                     "those windows are re-read next run")[:500]
            status.last_error_at, status.last_error_code = now, code[:128]
            status.last_error_message = calls.last_message[:2000]
            status.last_error_permanent = False
            fields += ["last_error_at", "last_error_code", "last_error_message", "last_error_permanent"]
        else:
            status.last_shortfall = ctx.short
        _record_state(status, now, fields)
        return PollOutcome(ran=True, ok=True, items=ctx.items, warnings=tuple(ctx.warnings))


def _recheck_permissions(account: Account, region: str, code: str) -> None:
    """An AccessDenied may mean the role's policy changed: ask for the account's permission
    check to run again (enqueued after commit, at most once per interval; never blocks)."""
    from ops.services.permissions import permission_recheck_request

    try:
        permission_recheck_request(account=account, region=region, code=code)
    except Exception:  # noqa: BLE001 - the poll's own outcome is recorded; this is extra
        log.exception("permission re-check for %s/%s not requested", account.name, region)


def _record_state(status: PollStatus, now, fields: list[str]) -> None:
    health = poll_health(status, now=now)
    if health.state != status.state or status.state_since is None:
        status.state, status.state_since = health.state, health.since or now
        fields = [*fields, "state", "state_since"]
    status.save(update_fields=fields)


def _merge_warnings(old: list, new: list[str], at) -> list:
    """Newest last; a message seen again moves to the end with its new time (no repeats)."""
    stamped = [{"at": at.isoformat(), "message": w} for w in dict.fromkeys(new)]
    fresh = {w["message"] for w in stamped}
    kept = [w for w in (old or []) if w.get("message") not in fresh]
    return (kept + stamped)[-MAX_WARNINGS:]


def _record_failure(
    status: PollStatus,
    ctx: PollContext,
    calls: outcomes.Tally,
    code: str,
    message: str,
    t0: float,
    *,
    permanent: bool,
    extra_fields: list[str] = (),
) -> None:
    now = timezone.now()
    status.last_error_at = now
    status.last_error_code = code[:128]
    status.last_error_message = message[:2000]
    status.last_error_permanent = permanent
    status.last_duration_ms = int((time.monotonic() - t0) * 1000)
    status.consecutive_failures += 1
    status.last_calls, status.last_failed_calls = calls.calls, calls.failed
    status.warnings = _merge_warnings(status.warnings, ctx.warnings, now)
    fields = [
        "last_error_at",
        "last_error_code",
        "last_error_message",
        "last_error_permanent",
        "last_duration_ms",
        "consecutive_failures",
        "last_calls",
        "last_failed_calls",
        "warnings",
        *extra_fields,
    ]
    _record_state(status, now, fields)


def enabled_scopes() -> list[tuple[Account, str]]:
    return [(account, region) for account in Account.objects.filter(enabled=True) for region in account.regions]
