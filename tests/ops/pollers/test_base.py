"""poll_run records what each run's AWS calls did, and the state that follows (through the sandbox)."""

from datetime import timedelta

import pytest

from ops.aws.client import call, client
from ops.models import PollState, PollStatus
from ops.pollers.base import poll_run
from sandbox.testing import add_fault, clear_faults
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"


def _three_calls(ctx):
    """A poller that swallows a transient failure per call, as metrics and logs do."""
    c = client("lambda", ctx.scope)
    for _ in range(3):
        try:
            call(c, "ListFunctions")
        except Exception as exc:  # noqa: BLE001 - the point: the run goes on
            ctx.warn(f"ListFunctions {getattr(exc, 'code', exc)}; re-read next run")
    ctx.items += 1


def _run(account, work=_three_calls, source="inventory"):
    outcome = poll_run(source=source, account=account, region=REGION, work=work)
    return outcome, PollStatus.objects.get(source=source, account=account, region=REGION)


def test_some_calls_failing_is_a_degraded_success_every_call_failing_a_failure(aws):
    account = AccountFactory(account_id="123456789012", regions=[REGION])
    outcome, st = _run(account)
    assert outcome.ok and (st.state, st.last_calls, st.last_failed_calls, st.last_shortfall) == (PollState.OK, 3, 0, "")
    ok_since = st.state_since
    assert st.cadence_s == 300 and st.data_until is not None

    add_fault(aws, service="lambda", operation="ListFunctions", error="ThrottlingException", count=1)
    outcome, st = _run(account)
    assert outcome.ok and st.consecutive_failures == 0
    assert (st.state, st.last_calls, st.last_failed_calls, st.last_error_code) == (PollState.DEGRADED, 3, 1, "ThrottlingException")
    assert st.last_shortfall == "1 of 3 AWS calls failed (ThrottlingException); those windows are re-read next run"
    assert st.last_error_at == st.last_success_at and st.state_since == st.last_success_at > ok_since
    degraded_since = st.state_since

    clear_faults(aws)
    add_fault(aws, service="lambda", operation="ListFunctions", error="ServiceUnavailableException")
    outcome, st = _run(account)
    assert not outcome.ok and outcome.error_code == "ServiceUnavailableException"
    assert (st.state, st.consecutive_failures, st.last_failed_calls, st.last_error_permanent) == (PollState.DEGRADED, 1, 3, False)
    assert st.last_error_at > st.last_success_at and st.last_error_message.startswith("all 3 AWS call(s) failed; last: ListFunctions")
    assert st.state_since == degraded_since  # still degraded: the state began with the first bad run
    assert st.items == 1 and any("re-read next run" in w["message"] for w in st.warnings)

    clear_faults(aws)
    outcome, st = _run(account)
    assert outcome.ok and (st.state, st.last_failed_calls, st.last_shortfall) == (PollState.OK, 0, "")
    assert st.state_since == st.last_success_at


def test_a_permanent_error_is_failing_at_once_and_a_shortfall_degraded(aws):
    account = AccountFactory(account_id="123456789012", regions=[REGION])

    def denied(ctx):
        call(client("lambda", ctx.scope), "ListFunctions")

    add_fault(aws, service="lambda", operation="ListFunctions", error="AccessDeniedException")
    outcome, st = _run(account, denied)
    assert not outcome.ok and (st.state, st.last_error_code, st.last_error_permanent) == (
        PollState.FAILING, "AccessDeniedException", True)
    assert st.state_since == st.last_error_at
    clear_faults(aws)

    def short(ctx):
        call(client("lambda", ctx.scope), "ListFunctions")
        ctx.shortfall("time budget used up; 3 log group(s) were due, the rest go next run")
        ctx.data_until = None

    outcome, st = _run(account, short, source="logs")
    assert outcome.ok and (st.state, st.last_shortfall) == (
        PollState.DEGRADED, "time budget used up; 3 log group(s) were due, the rest go next run")
    assert st.cadence_s == 60 and st.data_until - st.last_started_at < timedelta(seconds=1)
