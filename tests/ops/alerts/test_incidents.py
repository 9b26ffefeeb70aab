"""The incident processor: each flip claimed once (also by two processors at once), grouping
into the function's open incident, severity, resolve, a rule deleted while firing, jobs on the
timeline once, and one notification round per decision."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ops.alerts import incidents
from ops.alerts.incidents import flips_process, jobs_link
from ops.models import Job, JobKind
from ops.models.alerts import AlertFlip, AlertState, Incident, IncidentEvent
from ops.models.choices import IncidentEventKind, IncidentStatus
from tests.factories import AliasFactory, FunctionFactory, QueueFactory
from tests.ops.alerts.conftest import flip_make, minutes_ago, rule_make
from tests.waiting import wait_until


def _kinds(incident) -> list[str]:
    return list(IncidentEvent.objects.filter(incident=incident).order_by("at", "id").values_list("kind", flat=True))


@pytest.mark.django_db
def test_firing_opens_one_incident_related_rules_group_into_it_and_resolve_closes_it(enqueued):
    fn = FunctionFactory(name="checkout-api")
    errors = rule_make("error rate > 5 %", severity="warning")
    p99 = rule_make("p99 > 80 % of timeout", severity="critical", signal="p99_of_timeout", threshold=80)
    flip_make(errors, fn, "pending", at=minutes_ago(6))
    flip_make(errors, fn, "firing", at=minutes_ago(4))
    assert flips_process() == 2
    incident = Incident.objects.get()
    assert (incident.function, incident.status, incident.severity) == (fn, IncidentStatus.OPEN, "warning")
    assert incident.title == "checkout-api: error rate > 5 %"
    # began at the first breaching window (the pending flip's window start), before the firing flip
    assert incident.began_at == minutes_ago(7)
    assert _kinds(incident) == [IncidentEventKind.FIRED]
    assert enqueued == [(incident.pk, "firing", 1)]
    assert AlertState.objects.get(rule=errors).incident == incident
    assert incident.diagnosis and incident.diagnosis[0]["key"] == "began" and incident.diagnosed_at is not None

    # a second rule joins at a higher severity: same incident, a new firing round
    flip_make(p99, fn, "firing", at=minutes_ago(3))
    assert flips_process() == 1
    incident.refresh_from_db()
    assert Incident.objects.count() == 1 and incident.severity == "critical"
    assert enqueued[-1] == (incident.pk, "firing", 2)

    # the first rule resolves and fires again: REFIRED, no new round (nothing got worse)
    flip_make(errors, fn, "resolved", at=minutes_ago(2))
    flip_make(errors, fn, "firing", at=minutes_ago(1))
    assert flips_process() == 2
    assert len(enqueued) == 2 and Incident.objects.get().status == IncidentStatus.OPEN

    # both back to normal: RULE_RESOLVED twice, then RESOLVED and one resolve round
    flip_make(errors, fn, "resolved")
    flip_make(p99, fn, "resolved")
    assert flips_process() == 2
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_at is not None
    assert _kinds(incident) == ["fired", "fired", "rule_resolved", "refired", "rule_resolved", "rule_resolved", "resolved"]
    assert enqueued[-1] == (incident.pk, "resolved", 3)
    assert flips_process() == 0  # nothing left to claim

    # firing again later opens a new incident
    flip_make(errors, fn, "firing")
    flips_process()
    assert Incident.objects.filter(status=IncidentStatus.OPEN).exclude(pk=incident.pk).count() == 1


@pytest.mark.django_db
def test_flips_that_never_fired_open_nothing(enqueued):
    fn = FunctionFactory()
    rule = rule_make()
    flip_make(rule, fn, "pending")
    flip_make(rule, fn, "ok")
    assert flips_process() == 2
    assert Incident.objects.count() == 0 and enqueued == []
    assert AlertFlip.objects.filter(processed_at=None).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_processors_at_once_claim_each_flip_once_and_notify_once(enqueued):
    """Processor A holds its claims in an open transaction; B starts while A is inside it,
    blocks on A's row locks, and finds every flip taken once A commits."""
    fn = FunctionFactory()
    rules = [rule_make(f"rule {i}") for i in range(3)]
    for r in rules:
        flip_make(r, fn, "firing")
    inside, release = threading.Event(), threading.Event()
    real_apply = incidents._flip_apply
    results: dict[str, int] = {}

    def slow_apply(**kw):
        real_apply(**kw)
        if threading.current_thread().name == "A" and not inside.is_set():
            inside.set()
            release.wait(10)

    incidents._flip_apply = slow_apply
    try:
        def run(name):
            try:
                results[name] = flips_process()
            finally:
                connection.close()

        a = threading.Thread(target=run, args=("A",), name="A")
        b = threading.Thread(target=run, args=("B",), name="B")
        a.start()
        assert inside.wait(10)
        b.start()

        def b_waits_on_a_lock():
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                return cur.fetchone()[0] >= 1

        wait_until(b_waits_on_a_lock, 10, "the second processor to wait on the first one's claim")
        release.set()
        a.join(10)
        b.join(10)
    finally:
        incidents._flip_apply = real_apply
    assert sorted(results.values()) == [0, 3]
    assert Incident.objects.count() == 1
    assert IncidentEvent.objects.filter(kind=IncidentEventKind.FIRED).count() == 3
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_an_open_incident_that_a_parallel_insert_won_is_joined(enqueued, monkeypatch):
    """The INSERT races another processor's: the constraint refuses ours, we join theirs."""
    fn = FunctionFactory()
    rule = rule_make()
    flip_make(rule, fn, "firing")
    theirs = Incident.objects.create(function=fn, title="theirs", began_at=timezone.now(), opened_at=timezone.now())
    calls = {"n": 0}
    real = incidents._open_incident

    def first_misses(**kw):  # our first read comes before their commit
        calls["n"] += 1
        return None if calls["n"] == 1 else real(**kw)

    monkeypatch.setattr(incidents, "_open_incident", first_misses)
    assert flips_process() == 1
    assert list(Incident.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert _kinds(theirs) == [IncidentEventKind.FIRED]


@pytest.mark.django_db
def test_a_rule_deleted_while_firing_resolves_its_incident(enqueued):
    fn = FunctionFactory()
    doomed, other = rule_make("doomed"), rule_make("other")
    flip_make(doomed, fn, "firing")
    flip_make(other, fn, "firing")
    flips_process()
    incident = Incident.objects.get()
    doomed.delete()  # its state goes with it; its flips keep their rule name
    flips_process()
    incident.refresh_from_db()
    # another rule still fires: the deletion is on the timeline, the incident stays open
    assert incident.status == IncidentStatus.OPEN
    assert IncidentEvent.objects.get(incident=incident, kind=IncidentEventKind.RULE_DELETED).text == "rule doomed deleted while firing"
    other.delete()
    flips_process()
    flips_process()  # once only
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert _kinds(incident) == ["fired", "fired", "rule_deleted", "rule_deleted", "resolved"]
    assert "other deleted, nothing else firing" in IncidentEvent.objects.get(incident=incident, kind="resolved").text
    assert [k for _, k, _ in enqueued] == ["firing", "resolved"]


@pytest.mark.django_db
def test_jobs_on_the_function_its_aliases_and_dlqs_are_linked_once(enqueued):
    fn = FunctionFactory()
    alias = AliasFactory(function=fn)
    dlq = QueueFactory(account=fn.account, name="fn-dlq")
    fn.queue_links.create(queue=dlq, role="lambda_dlq")
    other = FunctionFactory(account=fn.account)
    before = Job.objects.create(kind=JobKind.FUNCTION_THROTTLE, account=fn.account, region=fn.region,
                                resource_arn=fn.arn, actor_name="olga", idempotency_key="before-incident",
                                status="succeeded")
    Job.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(hours=1))
    rule = rule_make()
    flip_make(rule, fn, "firing")
    flips_process()
    incident = Incident.objects.get()

    def job(arn, key):
        return Job.objects.create(kind=JobKind.ALIAS_ROLLBACK, account=fn.account, region=fn.region, resource_arn=arn,
                                  actor_name="olga", target_label=arn.rsplit(":", 1)[-1], idempotency_key=key)

    on_alias, on_dlq, on_fn = job(alias.arn, "k-alias"), job(dlq.arn, "k-dlq"), job(fn.arn, "k-fn")
    job(other.arn, "k-other")
    assert jobs_link() == 3
    assert jobs_link() == 0  # already linked
    flips_process()
    linked = IncidentEvent.objects.filter(incident=incident, kind=IncidentEventKind.ACTION)
    assert sorted(linked.values_list("job_id", flat=True)) == sorted([on_alias.pk, on_dlq.pk, on_fn.pk])
    assert set(linked.values_list("actor_name", flat=True)) == {"olga"}


@pytest.mark.django_db
def test_a_flip_for_a_scope_not_a_function_opens_a_scope_incident(enqueued):
    rule = rule_make("region headroom < 10 %", signal="region_headroom", threshold=10, comparison="lt")
    at = minutes_ago(1)
    AlertState.objects.create(rule=rule, function=None, scope_key="123456789012:us-east-1", state="firing", since=at)
    AlertFlip.objects.create(rule=rule, rule_name=rule.name, function=None, scope_key="123456789012:us-east-1",
                             old_state="pending", new_state="firing", at=at, value=4.0, threshold=10, severity="warning")
    assert flips_process() == 1
    incident = Incident.objects.get()
    assert (incident.function, incident.scope_key, incident.title) == (
        None, "123456789012:us-east-1", "123456789012:us-east-1: region headroom < 10 %")
    assert [line["key"] for line in incident.diagnosis] == ["began"]


@pytest.mark.django_db
def test_an_outbox_that_fails_leaves_the_incident_and_says_so_on_its_timeline(monkeypatch):
    def refuse(**kw):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(incidents, "_enqueue", refuse)
    fn = FunctionFactory()
    flip_make(rule_make(), fn, "firing")
    assert flips_process() == 1
    incident = Incident.objects.get()
    event = IncidentEvent.objects.get(incident=incident, kind=IncidentEventKind.NOTIFY_FAILED)
    assert event.text == "firing notifications could not be queued: RuntimeError: outbox down"
    assert AlertFlip.objects.filter(processed_at=None).count() == 0


@pytest.mark.django_db
def test_a_flip_that_cannot_be_applied_does_not_hold_back_the_others(enqueued, monkeypatch):
    fn, other = FunctionFactory(name="bad-data"), FunctionFactory(name="fine")
    rule = rule_make()
    poison = flip_make(rule, fn, "firing")
    flip_make(rule, other, "firing")
    real = incidents._flip_apply

    def apply(*, flip, now, rounds):
        real(flip=flip, now=now, rounds=rounds)  # its incident is written, then the savepoint undoes it
        if flip.pk == poison.pk:
            raise ValueError("odd data")

    monkeypatch.setattr(incidents, "_flip_apply", apply)
    assert flips_process() == 2
    assert list(Incident.objects.values_list("function__name", flat=True)) == ["fine"]
    assert len(enqueued) == 1 and AlertFlip.objects.filter(processed_at=None).count() == 0
