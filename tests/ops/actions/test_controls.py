"""Emergency controls against the sandbox: throttle and undo change what the sandbox does, reserved
concurrency is set and verified, an event source stops and resumes; a value changed meanwhile
refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ops.actions.runner import job_run
from ops.aws.client import Scope, client
from ops.models import EventSourceMapping, Function, JobKind, JobStatus
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.services.accounts import account_upsert
from ops.services.actions import (
    ActionRefused,
    concurrency_preflight,
    concurrency_request,
    esm_toggle_request,
)
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"
FN = "payments-worker"


def lam():
    return client("lambda", Scope(PROD_ACCOUNT_ID, REGION))


@pytest.fixture
def worker(aws, sandbox_server, no_enqueue):
    sandbox.seed_estate(sandbox_server, small=True)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    fn = Function.objects.select_related("account").get(name=FN, account=account, region=REGION)
    assert fn.reserved_concurrency == 20
    return fn, make_user("operator", username="olga")


def _ledger(server, start):
    rows = sandbox.ledger(server, function=FN, start=start, end=start + timedelta(minutes=3))
    return sum(r.get("invocations", 0) for r in rows), sum(r.get("throttles", 0) for r in rows)


def _run(fn, user, kind, key, reserved=None):
    fn.refresh_from_db()
    job = concurrency_request(function=fn, kind=kind, user=user, reserved=reserved, expected=fn.reserved_concurrency,
                              idempotency_key=key).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED, job.error
    job.refresh_from_db()
    return job


def test_throttle_and_undo_change_what_the_sandbox_does(worker, sandbox_server):
    fn, user = worker
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
    sandbox.generate(sandbox_server, start=t0, minutes=3, seed=4)
    invocations, throttles = _ledger(sandbox_server, t0)
    assert invocations > 0 and throttles == 0

    throttle = _run(fn, user, JobKind.FUNCTION_THROTTLE, "t" * 16)
    assert throttle.result == {"function": FN, "previous_reserved": 20, "reserved": 0}
    assert lam().get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 0
    fn.refresh_from_db()
    assert fn.reserved_concurrency == 0
    t1 = t0 + timedelta(minutes=3)
    sandbox.generate(sandbox_server, start=t1, minutes=3, seed=4)
    invocations, throttles = _ledger(sandbox_server, t1)
    assert invocations == 0 and throttles > 0  # every invocation throttled

    pf = concurrency_preflight(function=fn, kind=JobKind.FUNCTION_UNTHROTTLE)
    assert pf.goal == 20 and "reserved concurrency 20" in pf.effect
    undo = _run(fn, user, JobKind.FUNCTION_UNTHROTTLE, "u" * 16)
    assert undo.result["reserved"] == 20
    t2 = t1 + timedelta(minutes=3)
    sandbox.generate(sandbox_server, start=t2, minutes=3, seed=4)
    invocations, throttles = _ledger(sandbox_server, t2)
    assert invocations > 0 and throttles == 0


def test_set_concurrency_and_a_value_changed_meanwhile_refuses(worker, sandbox_server):
    fn, user = worker
    job = _run(fn, user, JobKind.FUNCTION_CONCURRENCY, "c" * 16, reserved=5)
    assert job.result["reserved"] == 5 and lam().get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 5
    fn.refresh_from_db()
    job = concurrency_request(function=fn, kind=JobKind.FUNCTION_CONCURRENCY, user=user, reserved=8, expected=5,
                              idempotency_key="d" * 16).job
    lam().put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=11)  # someone else
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "is 11, not 5 as the confirm page showed" in job.error
    assert lam().get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 11
    with pytest.raises(ActionRefused, match="between 0 and the account limit"):
        concurrency_request(function=fn, kind=JobKind.FUNCTION_CONCURRENCY, user=user, reserved=10**5, expected=5,
                            idempotency_key="e" * 16)


def test_access_denied_on_the_write_leaves_it_as_it_was(worker, sandbox_server):
    fn, user = worker
    job = concurrency_request(function=fn, kind=JobKind.FUNCTION_THROTTLE, user=user, reserved=None, expected=20,
                              idempotency_key="f" * 16).job
    sandbox.add_fault(sandbox_server, service="lambda", operation="PutFunctionConcurrency",
                      error="AccessDeniedException", count=3)
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "AccessDeniedException" in job.error and "nothing was changed" in job.error
    assert lam().get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 20


def test_disable_and_enable_an_event_source(worker, sandbox_server):
    fn, user = worker
    esm = EventSourceMapping.objects.get(function=fn)
    assert esm.state == "Enabled"
    job = esm_toggle_request(esm=esm, user=user, enable=False, idempotency_key="g" * 16).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert lam().get_event_source_mapping(UUID=esm.uuid)["State"] == "Disabled"
    esm.refresh_from_db()
    assert esm.state == "Disabled"
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    sandbox.generate(sandbox_server, start=t0, minutes=3, seed=4)
    assert _ledger(sandbox_server, t0) == (0, 0)  # nothing consumed
    job = esm_toggle_request(esm=esm, user=user, enable=True, idempotency_key="h" * 16).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert lam().get_event_source_mapping(UUID=esm.uuid)["State"] == "Enabled"
