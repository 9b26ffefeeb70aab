"""Alias moves against the sandbox: rollback to the version before (from history), the RevisionId
guard, one job per key, faults (denied, deleted version, deleted alias, a timeout after
sending), canary finish/abort, and the CloudTrail event of our own call merging into the
action's row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.actions.runner import job_run
from ops.aws.client import Scope, client
from ops.models import Alias, AliasChange, AliasChangeSource, AuditEntry, DeployDating, Job, JobKind, JobStatus
from ops.pollers.base import poll_run
from ops.pollers.changes import changes_poll
from ops.pollers.inventory import inventory_poll
from ops.services.accounts import account_upsert
from ops.services.actions import ActionRefused, alias_action_request, alias_preflight
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"
FN = "orders-api"


def lam():
    return client("lambda", Scope(PROD_ACCOUNT_ID, REGION))


@pytest.fixture
def deployed(aws, sandbox_server, no_enqueue):
    """orders-api: live → v1 + v2 (10 %), then the regression deploy moves live → v3."""
    sandbox.seed_estate(sandbox_server, small=True)
    sandbox.cloudtrail_delay(sandbox_server, 0)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    sc = sandbox.set_scenario(sandbox_server, "deploy-regression", function=FN, account=PROD_ACCOUNT_ID, region=REGION)
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    alias = Alias.objects.select_related("function__account").get(function__name=FN, function__account=account, name="live")
    assert alias.version == sc["version"] == "3"
    return account, alias, make_user("operator", username="olga")


def _request(alias, user, *, kind=JobKind.ALIAS_ROLLBACK, key="k" * 16, to_version=None, revision=None):
    pf = alias_preflight(alias=alias, kind=kind)
    assert not pf.refusal, pf.refusal
    return alias_action_request(kind=kind, alias=alias, user=user, to_version=to_version or pf.target_version,
                                revision_id=revision or pf.revision_id, idempotency_key=key)


def test_rollback_goes_back_to_the_version_before_verifies_and_records_it(deployed, sandbox_server):
    account, alias, user = deployed
    pf = alias_preflight(alias=alias, kind=JobKind.ALIAS_ROLLBACK)
    assert (pf.current_version, pf.target_version, pf.target_from) == ("3", "1", "history")  # not "3 − 1"
    assert [s.version for s in pf.comparison.sides] == ["3", "1"]
    job = _request(alias, user).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    live = lam().get_alias(FunctionName=FN, Name="live")
    assert live["FunctionVersion"] == "1" and not (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    job.refresh_from_db()
    assert job.result["update_calls"] == 1 and job.result["to"] == "v1"
    move = AliasChange.objects.get(job=job)
    assert (move.source, move.actor, move.dated_by, move.from_version, move.to_version) == (
        AliasChangeSource.ROLLBACK, user, DeployDating.ACTION, "3", "1")
    alias.refresh_from_db()
    assert (alias.version, alias.weights, alias.revision_id) == ("1", {}, live["RevisionId"])
    results = list(AuditEntry.objects.filter(action=JobKind.ALIAS_ROLLBACK).values_list("result", flat=True))
    assert sorted(results) == ["requested", "succeeded"]

    # the inventory and CloudTrail see the same move later: still one row, the action's
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    assert poll_run(source="changes", account=account, region=REGION, work=changes_poll).ok
    moves = list(AliasChange.objects.filter(alias=alias, to_version="1", at__gte=move.at - timedelta(minutes=2))
                 .exclude(source=AliasChangeSource.CREATED))  # the seed's CreateAlias → v1 is its own row
    assert moves == [move]
    move.refresh_from_db()
    assert move.event_id and move.source == AliasChangeSource.ROLLBACK and move.dated_by == DeployDating.ACTION
    assert move.actor == user and move.job == job


def test_a_stale_page_refuses_naming_who_moved_the_alias(deployed, sandbox_server):
    account, alias, user = deployed
    pf = alias_preflight(alias=alias, kind=JobKind.ALIAS_ROLLBACK)
    stale = pf.revision_id
    lam().update_alias(FunctionName=FN, Name="live", FunctionVersion="2", RevisionId=stale)  # someone else moves it
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    job = alias_action_request(kind=JobKind.ALIAS_ROLLBACK, alias=alias, user=user, to_version="1", revision_id=stale,
                               idempotency_key="s" * 16).job
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "refused: live moved to v2 at" in job.error and "nothing was changed" in job.error
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"
    assert not AliasChange.objects.filter(job=job).exists()
    assert AuditEntry.objects.filter(action=JobKind.ALIAS_ROLLBACK, result="failed").count() == 1


def test_lambda_itself_refuses_when_the_alias_moves_between_read_and_write(deployed, sandbox_server, monkeypatch):
    account, alias, user = deployed
    job = _request(alias, user).job
    from ops.aws import lambda_actions

    real = lambda_actions.alias_update

    def racing(scope, **kw):
        lam().update_alias(FunctionName=FN, Name="live", FunctionVersion="2")  # lands just before ours
        return real(scope, **kw)

    monkeypatch.setattr(lambda_actions, "alias_update", racing)
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "refused by Lambda" in job.error and "v2" in job.error
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"


def test_two_posts_with_one_key_roll_back_once(deployed, sandbox_server):
    account, alias, user = deployed
    first = _request(alias, user, key="d" * 16)
    second = _request(alias, user, key="d" * 16)
    assert first.created and not second.created and first.job.pk == second.job.pk
    assert Job.objects.filter(kind=JobKind.ALIAS_ROLLBACK).count() == 1
    other = _request(alias, user, key="e" * 16)  # another key while the first is active: refused, same job
    assert not other.created and other.job.pk == first.job.pk and "already" in other.message


@pytest.mark.parametrize(
    "error, expect",
    [("AccessDeniedException", "AWS refused UpdateAlias (AccessDeniedException"),
     ("ResourceNotFoundException", "does not exist")],
)
def test_a_refused_update_leaves_the_alias_as_it_was(deployed, sandbox_server, error, expect):
    account, alias, user = deployed
    job = _request(alias, user).job
    sandbox.add_fault(sandbox_server, service="lambda", operation="UpdateAlias", error=error, count=5)
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert expect in job.error, job.error
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "3"
    assert not AliasChange.objects.filter(job=job).exists()


def test_a_deleted_target_version_or_alias_fails_clearly(deployed, sandbox_server):
    account, alias, user = deployed
    job = _request(alias, user).job
    lam().delete_alias(FunctionName=FN, Name="live")
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "deleted meanwhile" in job.error
    # a version the inventory never saw cannot even be asked for
    with pytest.raises(ActionRefused, match="not a published version"):
        alias_action_request(kind=JobKind.ALIAS_ROLLBACK, alias=alias, user=user, to_version="42", revision_id="r",
                             idempotency_key="v" * 16)


def test_a_timeout_after_sending_reads_back_and_never_applies_twice(deployed, sandbox_server, monkeypatch):
    """The call reaches Lambda, the answer is lost: the read-back sees the move and stops there."""
    account, alias, user = deployed
    job = _request(alias, user).job
    from ops.aws import lambda_actions
    from ops.aws.errors import AwsError

    real, sent = lambda_actions.alias_update, []

    def lost_answer(scope, **kw):
        sent.append(kw)
        real(scope, **kw)
        raise AwsError("lambda", "UpdateAlias", "ReadTimeoutError", "Read timeout on endpoint URL", permanent=False)

    monkeypatch.setattr(lambda_actions, "alias_update", lost_answer)
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert len(sent) == 1
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"
    assert AliasChange.objects.filter(job=job).count() == 1


def test_throttled_once_then_retried_with_the_same_guard(deployed, sandbox_server):
    account, alias, user = deployed
    job = _request(alias, user).job
    sandbox.add_fault(sandbox_server, service="lambda", operation="UpdateAlias", error="TooManyRequestsException", count=1)
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.result["update_calls"] == 2
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"


def test_canary_finish_and_abort(aws, sandbox_server, no_enqueue):
    sandbox.seed_estate(sandbox_server, small=True)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    user = make_user("operator", username="olga")
    alias = Alias.objects.select_related("function__account").get(function__name=FN, function__account=account, name="live")
    assert (alias.version, alias.weights) == ("1", {"2": 0.1})
    pf = alias_preflight(alias=alias, kind=JobKind.CANARY_ABORT)
    assert pf.target_version == "1" and pf.target_label == "v1"
    pf = alias_preflight(alias=alias, kind=JobKind.CANARY_FINISH)
    assert pf.target_version == "2"
    job = _request(alias, user, kind=JobKind.CANARY_FINISH).job
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    live = lam().get_alias(FunctionName=FN, Name="live")
    assert live["FunctionVersion"] == "2" and not (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert AliasChange.objects.get(job=job).source == AliasChangeSource.CANARY
    alias.refresh_from_db()
    assert "no weighted routing" in alias_preflight(alias=alias, kind=JobKind.CANARY_ABORT).refusal


def _killed_after_sending(job, monkeypatch):
    """Attempt 1 sends its UpdateAlias and its worker dies before recording; the sweeper puts the
    job back to pending, as it does for a resumable job that stopped beating."""
    from ops.actions.runner import JobLost
    from ops.actions.sweeper import jobs_sweep
    from ops.aws import lambda_actions

    real = lambda_actions.alias_update

    def sent_then_killed(*args, **kwargs):
        real(*args, **kwargs)
        raise JobLost("worker killed after the call")

    with monkeypatch.context() as m:
        m.setattr(lambda_actions, "alias_update", sent_then_killed)
        assert job_run(job_id=job.pk) is None
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=120))
    assert jobs_sweep(stale_after_s=60).resumed == [job.pk]


def test_cloudtrail_first_then_the_job_records_into_that_row(deployed, sandbox_server, monkeypatch):
    """A resumed run (the first attempt's UpdateAlias went through, its worker died before
    recording) after the changes poller already stored our own event: one row, the action's."""
    account, alias, user = deployed
    job = _request(alias, user).job
    _killed_after_sending(job, monkeypatch)
    assert lam().get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"  # the lost attempt's call
    assert poll_run(source="changes", account=account, region=REGION, work=changes_poll).ok
    trail = AliasChange.objects.get(alias=alias, to_version="1", tool="Lambda Ops")
    assert trail.event_id and trail.job is None
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.attempts == 2 and job.result["update_calls"] == 0  # read back first: not sent again
    trail.refresh_from_db()
    assert (trail.job, trail.source, trail.actor) == (job, AliasChangeSource.ROLLBACK, user)
    assert AliasChange.objects.filter(alias=alias, to_version="1").exclude(source=AliasChangeSource.CREATED).count() == 1


def test_someone_elses_move_to_the_target_is_not_taken_as_this_rollback(deployed, sandbox_server):
    """A deploy pipeline moves live to v1 after the confirm page was rendered: the job finds the
    alias at its target, but it sent nothing, so it fails and records no move of its own."""
    account, alias, user = deployed
    job = _request(alias, user).job
    pf = alias_preflight(alias=alias, kind=JobKind.ALIAS_ROLLBACK)
    moved = lam().update_alias(FunctionName=FN, Name="live", FunctionVersion="1", RevisionId=pf.revision_id)
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.error == "live is already on v1 (moved since the page was rendered, by someone not known yet); nothing was changed"
    assert job.result is None and not AliasChange.objects.filter(job=job).exists()

    # once CloudTrail has told who moved it, the error names them
    assert poll_run(source="changes", account=account, region=REGION, work=changes_poll).ok
    theirs = AliasChange.objects.filter(alias=alias, to_version="1").exclude(source=AliasChangeSource.CREATED).get()
    before = set(AliasChange.objects.values_list("pk", flat=True))
    job = alias_action_request(kind=JobKind.ALIAS_ROLLBACK, alias=alias, user=user, to_version="1",
                               revision_id=pf.revision_id, idempotency_key="t" * 16).job  # the same stale page
    assert job_run(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.error == (f"live is already on v1 (moved at {theirs.at:%H:%M:%S} UTC by {theirs.actor_name}); "
                         "nothing was changed")
    assert lam().get_alias(FunctionName=FN, Name="live")["RevisionId"] == moved["RevisionId"]  # nothing sent
    assert set(AliasChange.objects.values_list("pk", flat=True)) == before
    assert not AliasChange.objects.filter(job=job).exists()
    assert not AliasChange.objects.filter(alias=alias, source=AliasChangeSource.ROLLBACK).exists()
    assert sorted(AuditEntry.objects.filter(action=JobKind.ALIAS_ROLLBACK).values_list("result", flat=True)) == [
        "failed", "failed", "requested", "requested"]


def test_the_confirm_page_warns_about_event_sources_on_latest(aws, sandbox_server, no_enqueue):
    """payments-worker's queue mapping invokes the unqualified function: rolling back an alias
    does not change what the queue runs, and the preflight says so."""
    sandbox.seed_estate(sandbox_server, small=True)
    c = lam()
    for build in ("1", "2"):
        c.update_function_configuration(FunctionName="payments-worker", Description=f"build {build}")
        c.publish_version(FunctionName="payments-worker", Description=f"build {build}")
    c.create_alias(FunctionName="payments-worker", Name="live", FunctionVersion="2")
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    alias = Alias.objects.select_related("function__account").get(function__name="payments-worker", name="live")
    pf = alias_preflight(alias=alias, kind=JobKind.ALIAS_ROLLBACK, to_version="1")
    assert any("event source arn:aws:sqs:" in w and "payments-queue invokes $LATEST" in w and "not live" in w
               for w in pf.warnings), pf.warnings
    assert not pf.refusal and pf.target_version == "1"


def test_an_inventory_read_from_before_the_rollback_does_not_undo_or_rerecord_it(deployed, sandbox_server, monkeypatch):
    """The inventory reads the aliases (still v3), the rollback runs and records, then the
    inventory stores what it read: the Alias row stays at v1 and no "observed" move appears."""
    account, alias, user = deployed
    job = _request(alias, user).job
    from ops.aws import lambda_ as aws_lambda

    real = aws_lambda.aliases_list
    ran = []

    def read_then_rollback(scope, info):
        listed = real(scope, info)
        if info.name == FN and not ran:
            ran.append(job_run(job_id=job.pk))  # lands between the inventory's read and its write
        return listed

    monkeypatch.setattr(aws_lambda, "aliases_list", read_then_rollback)
    known = set(AliasChange.objects.filter(alias=alias).values_list("pk", flat=True))
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    assert ran == [JobStatus.SUCCEEDED]
    alias.refresh_from_db()
    assert alias.version == "1"
    monkeypatch.setattr(aws_lambda, "aliases_list", real)
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    moves = list(AliasChange.objects.filter(alias=alias).exclude(source=AliasChangeSource.CREATED).order_by("at"))
    assert [(m.from_version, m.to_version, m.source) for m in moves][-1] == ("3", "1", AliasChangeSource.ROLLBACK)
    new_rows = AliasChange.objects.filter(alias=alias).exclude(pk__in=known)
    assert [(m.source, m.job_id) for m in new_rows] == [(AliasChangeSource.ROLLBACK, job.pk)]  # nothing "observed"
