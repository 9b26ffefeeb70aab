"""Automatic rollback against the sandbox's Lambda: a rule opted in for ``live`` fires minutes
after the deploy-regression scenario moved live → v3; the real rollback job moves it back, once
per incident, on the timeline; never again for the move the rollback made; a refused preflight
is written as the event's text."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ops.actions.runner import job_run
from ops.alerts import autorollback, incidents
from ops.alerts.incidents import flips_process
from ops.aws.client import Scope, client
from ops.models import Alias, AliasChangeSource, Job, JobKind, JobStatus
from ops.models.alerts import Incident, IncidentEvent
from ops.models.choices import IncidentEventKind
from ops.pollers.base import poll_run
from ops.pollers.inventory import inventory_poll
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox
from sandbox.estate import PROD_ACCOUNT_ID
from tests.factories import AliasChangeFactory, AliasFactory, VersionFactory
from tests.ops.alerts.conftest import flip_make, rule_make

REGION = "us-east-1"
FN = "orders-api"


@pytest.fixture
def deployed(aws, sandbox_server, no_enqueue):
    sandbox.seed_estate(sandbox_server, small=True)
    account = account_upsert(name="prod", account_id=PROD_ACCOUNT_ID, regions=[REGION])
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    sandbox.set_scenario(sandbox_server, "deploy-regression", function=FN, account=PROD_ACCOUNT_ID, region=REGION)
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok
    alias = Alias.objects.select_related("function__account").get(function__name=FN, function__account=account, name="live")
    assert alias.version == "3"
    return account, alias


@pytest.fixture
def no_enqueue(monkeypatch):
    from ops.tasks import actions

    sent: list[int] = []
    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: sent.append(job_id))
    return sent


@pytest.mark.django_db
def test_auto_rollback_fires_once_and_is_on_the_timeline(deployed, no_enqueue, django_capture_on_commit_callbacks,
                                                        monkeypatch):
    account, alias = deployed
    seen: list[list[str]] = []  # the timeline when the outbox is asked: the rollback is on it already
    monkeypatch.setattr(incidents, "_enqueue", lambda *, incident, kind, now: seen.append(
        list(incident.events.values_list("kind", flat=True))) or [])
    rule = rule_make("orders error rate", severity="critical", auto_rollback_alias=alias, auto_rollback_minutes=30)
    flip_make(rule, alias.function, "firing", at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert flips_process() == 1
    incident = Incident.objects.get()
    event = IncidentEvent.objects.get(incident=incident, kind=IncidentEventKind.AUTO_ROLLBACK)
    job = event.job
    assert (job.kind, job.actor_name, job.parameters["to_version"]) == (
        JobKind.ALIAS_ROLLBACK, "Lambda Ops (auto-rollback: rule orders error rate)", "1")
    assert event.text.startswith("rule orders error rate fired 0 min after live moved v")
    assert event.text.endswith(f"rolling live back to v1 (job #{job.pk})")
    assert no_enqueue == [job.pk]  # sent to the actions queue on commit
    assert seen == [[IncidentEventKind.FIRED, IncidentEventKind.AUTO_ROLLBACK]]
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    live = client("lambda", Scope(PROD_ACCOUNT_ID, REGION)).get_alias(FunctionName=FN, Name="live")
    assert live["FunctionVersion"] == "1"

    # the rule fires again within the same incident: no second rollback
    flip_make(rule, alias.function, "resolved")
    flip_make(rule, alias.function, "firing", at=timezone.now())
    flips_process()
    assert Job.objects.filter(kind=JobKind.ALIAS_ROLLBACK).count() == 1
    assert IncidentEvent.objects.filter(kind=IncidentEventKind.AUTO_ROLLBACK).count() == 1
    # the job is not linked a second time as a plain action
    assert not IncidentEvent.objects.filter(kind=IncidentEventKind.ACTION, job=job).exists()

    # a later incident: the alias's last move is the rollback's own, so never again
    flip_make(rule, alias.function, "resolved")
    flips_process()
    alias.refresh_from_db()
    assert alias.changes.order_by("-at").first().source == AliasChangeSource.ROLLBACK
    flip_make(rule, alias.function, "firing", at=timezone.now())
    flips_process()
    assert Incident.objects.count() == 2
    assert Job.objects.filter(kind=JobKind.ALIAS_ROLLBACK).count() == 1


@pytest.mark.django_db
def test_refused_preflight_is_written_once_and_old_deploys_do_nothing(enqueued, monkeypatch):
    alias = AliasFactory(version="5")
    VersionFactory(function=alias.function, version="5")
    now = timezone.now()
    AliasChangeFactory(alias=alias, at=now - timezone.timedelta(minutes=3), from_version="", to_version="5")

    class Refused:
        refusal = "the alias history does not say which version it pointed to before; pick the version to roll back to"

    monkeypatch.setattr(autorollback, "alias_preflight", lambda **kw: Refused())
    rule = rule_make("fn errors", auto_rollback_alias=alias, auto_rollback_minutes=10)
    flip_make(rule, alias.function, "firing", at=now)
    flips_process()
    event = IncidentEvent.objects.get(kind=IncidentEventKind.AUTO_ROLLBACK)
    assert event.text == f"automatic rollback of live not done: {Refused.refusal}" and event.job is None
    flip_make(rule, alias.function, "resolved")
    flip_make(rule, alias.function, "firing", at=now)
    flips_process()
    assert IncidentEvent.objects.filter(kind=IncidentEventKind.AUTO_ROLLBACK).count() == 1

    # a rule firing 40 min after the deploy, with a 30-minute window: nothing
    other = AliasFactory(name="prod", version="5", function=alias.function)
    AliasChangeFactory(alias=other, at=now - timezone.timedelta(minutes=40), from_version="4", to_version="5")
    late = rule_make("late", auto_rollback_alias=other, auto_rollback_minutes=30)
    flip_make(late, alias.function, "firing", at=now)
    flips_process()
    assert not IncidentEvent.objects.filter(kind=IncidentEventKind.AUTO_ROLLBACK, data__alias_id=other.pk).exists()
