"""The state of one scope × source's polling — ok, degraded or failing — judged in one place.

The status page, /healthz, the function page's "data is behind" notice and the JSON API all
read it from here, and ops.pollers.base records it after every run, so they never disagree.
Pure: it reads one PollStatus row and the clock, nothing else.

How it is judged, first match wins:
1. failing: the last run failed with an error retrying will not cure (AccessDenied);
2. failing: no successful cycle within POLL_FAILING_CYCLES × the source's cadence (since the
   last success, or since the row was made for a scope that never succeeded) — a dead worker,
   a frozen or unreachable endpoint all end here, with no run needed to notice;
3. degraded: the last run failed (transiently: the next one retries);
4. degraded: no run has finished yet;
5. degraded: the last run succeeded but some AWS calls failed, or it read less than it was due
   to (a statistic answered PartialData, the time budget ran out): data may lag;
6. degraded: the data is behind — the poller's "read up to" is older than BEHIND_CYCLES
   cadences plus a minute;
7. ok.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from ops.models import PollSource, PollState, PollStatus

# One cadence of lag is normal (the next run is due), a second one is late; a minute more
# covers a run's own duration.
BEHIND_CYCLES = 2
BEHIND_SLACK_S = 60
DEFAULT_CADENCE_S = 300

# The sources the product is for: without the inventory, metrics or logs its pages are empty or
# stale, so one of them failing is an outage (/healthz 503). The others have a fallback or are
# extras — without CloudTrail ("changes") a deploy is dated by its first invocation — so one of
# them failing leaves the product degraded, not down. A new source is optional until listed here.
REQUIRED_SOURCES = frozenset({PollSource.INVENTORY, PollSource.METRICS, PollSource.LOGS})


def source_cadence_s(source: str) -> int:
    """A source's configured cadence: the ``<SOURCE>_POLL_SECONDS`` setting, so a new poller
    (CloudTrail "changes": CHANGES_POLL_SECONDS) is judged like the others without a list here."""
    return int(getattr(settings, f"{source.upper()}_POLL_SECONDS", DEFAULT_CADENCE_S))


def failing_cycles() -> int:
    return int(getattr(settings, "POLL_FAILING_CYCLES", 3))


@dataclass(frozen=True)
class PollHealth:
    status: PollStatus
    state: str
    since: datetime | None
    reason: str  # one line: why this state
    cadence_s: int
    lag_s: int | None  # now − the poller's "read up to"; None when it has not said
    error_current: bool  # the last error is newer than the last success

    @property
    def problem(self) -> bool:
        """Worth a notice on the pages: failing, or the last run itself failed."""
        return self.state == PollState.FAILING or (self.state != PollState.OK and self.error_current)

    @property
    def behind(self) -> bool:
        """The data may stop short of now: failing, or degraded because it lags."""
        return self.state == PollState.FAILING or (
            self.state == PollState.DEGRADED and self.lag_s is not None
            and self.lag_s > BEHIND_CYCLES * self.cadence_s + BEHIND_SLACK_S)

    # The row's own facts, under the names the pages and the API already use.
    @property
    def source(self) -> str:
        return self.status.source

    @property
    def account(self):
        return self.status.account

    @property
    def region(self) -> str:
        return self.status.region

    @property
    def last_error_code(self) -> str:
        return self.status.last_error_code

    @property
    def last_error_message(self) -> str:
        return self.status.last_error_message

    @property
    def last_error_at(self) -> datetime | None:
        return self.status.last_error_at

    @property
    def last_success_at(self) -> datetime | None:
        return self.status.last_success_at

    @property
    def data_until(self) -> datetime | None:
        return self.status.data_until

    def get_source_display(self) -> str:
        return self.status.get_source_display()

    @property
    def ok(self) -> bool:
        return self.state == PollState.OK

    @property
    def failing(self) -> bool:
        return self.state == PollState.FAILING

    @property
    def required(self) -> bool:
        return self.source in REQUIRED_SOURCES

    @property
    def product_state(self) -> str:
        """What this state means for the product as a whole (/healthz's HTTP code): an optional
        source failing makes it degraded; anything else counts as it is."""
        return PollState.DEGRADED if self.failing and not self.required else self.state


def ago(seconds: float) -> str:
    """Seconds as "45 s", "12 min", "3 h 5 min" (the pages' ``duration_s`` filter says it too)."""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def poll_health(status: PollStatus, *, now: datetime) -> PollHealth:
    cadence = int(status.cadence_s or source_cadence_s(status.source))
    window = timedelta(seconds=failing_cycles() * cadence)
    success = status.last_success_at
    error_current = status.last_error_at is not None and (success is None or status.last_error_at > success)
    lag_s = None if status.data_until is None else max(0, int((now - status.data_until).total_seconds()))
    behind_s = BEHIND_CYCLES * cadence + BEHIND_SLACK_S
    ref = success or status.created_at
    code = status.last_error_code

    if error_current and status.last_error_permanent:
        state, since = PollState.FAILING, status.last_error_at
        reason = f"{code}: AWS refuses and retrying will not help; fix the permission or the account's set-up"
    elif ref is not None and now - ref > window:
        state, since = PollState.FAILING, ref + window
        what = f"no successful poll for {ago((now - success).total_seconds())}" if success else (
            f"no successful poll since the first attempt {ago((now - ref).total_seconds())} ago")
        reason = f"{what} (expected every {cadence} s)" + (f"; last error {code}" if error_current and code else "")
    elif error_current:
        state, since = PollState.DEGRADED, status.last_error_at
        reason = ("never succeeded; " if success is None else "") + f"last run failed ({code}); the next run retries"
    elif success is None:
        state, since = PollState.DEGRADED, status.created_at
        reason = "no poll has finished yet"
    elif status.last_failed_calls or status.last_shortfall:
        state, since = PollState.DEGRADED, success
        reason = status.last_shortfall or f"{status.last_failed_calls} AWS call(s) failed; data may lag"
    elif lag_s is not None and lag_s > behind_s:
        state, since = PollState.DEGRADED, status.data_until + timedelta(seconds=behind_s)
        fmt = "%H:%M" if lag_s < 12 * 3600 else "%Y-%m-%d %H:%M"  # a catch-up can be a day behind
        reason = f"data {ago(lag_s)} behind (read up to {status.data_until.astimezone(UTC).strftime(fmt)} UTC)"
    else:
        state, since = PollState.OK, status.state_since if status.state == PollState.OK else success
        reason = ""
    if status.state == state and status.state_since is not None:
        since = status.state_since  # as recorded when the state began (a run saw it first)
    return PollHealth(status=status, state=state, since=since, reason=reason, cadence_s=cadence, lag_s=lag_s,
                      error_current=error_current)


def worst(states) -> str:
    states = set(states)
    for s in (PollState.FAILING, PollState.DEGRADED):
        if s in states:
            return s
    return PollState.OK


__all__ = ["REQUIRED_SOURCES", "PollHealth", "ago", "poll_health", "source_cadence_s", "failing_cycles", "worst"]
