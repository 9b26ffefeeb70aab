"""Action confirm pages and POSTs: operators only, CSRF, a confirm page for every action, the
job they ask for, and the function page's timeline and buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ops.models import AliasChangeSource, EventSourceMapping, Job, JobKind, JobStatus
from tests.factories import AliasChangeFactory, VersionFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(make_user("operator", username="olga"))
    return client


@pytest.fixture
def live(estate, no_enqueue):
    """payments-api live → v43 (+ v42 10 %), deployed 35 min ago from v42; both versions published."""
    for v in ("42", "43"):
        VersionFactory(function=estate.bad, version=v, last_modified=estate.now - timedelta(hours=2 if v == "42" else 1))
    alias = estate.bad.aliases.get(name="live")
    alias.revision_id = "rev-1"
    alias.save(update_fields=["revision_id"])
    return alias


@pytest.fixture
def no_enqueue(monkeypatch):
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: None)


def _urls(estate, alias):
    fn = estate.bad
    return [
        reverse("alias-rollback", args=[fn.pk, alias.pk]),
        reverse("canary-finish", args=[fn.pk, alias.pk]),
        reverse("canary-abort", args=[fn.pk, alias.pk]),
        reverse("function-throttle", args=[fn.pk]),
        reverse("function-unthrottle", args=[fn.pk]),
        reverse("function-concurrency", args=[fn.pk]),
    ]


def test_a_viewer_gets_403_on_every_confirm_page_and_post(client_in, estate, live):
    for url in _urls(estate, live):
        assert client_in.get(url).status_code == 403, url
        assert client_in.post(url, {"idempotency_key": "k" * 16}).status_code == 403, url
    assert not Job.objects.exists()


def test_posts_need_csrf(estate, live):
    c = Client(enforce_csrf_checks=True)
    c.force_login(make_user("operator", username="oscar"))
    url = reverse("alias-rollback", args=[estate.bad.pk, live.pk])
    resp = c.post(url, {"idempotency_key": "k" * 16, "revision_id": "rev-1", "to_version": "42"})
    assert resp.status_code == 403 and not Job.objects.exists()


def test_an_alias_deleted_in_lambda_cannot_be_rolled_back(operator_client, estate, live, aws):
    # the sandbox is empty: GetAlias answers "not found", so the alias is gone from Lambda
    url = reverse("alias-rollback", args=[estate.bad.pk, live.pk])
    html = operator_client.get(url).content.decode()
    assert "no longer exists in Lambda" in html and "confirm-button" not in html


def test_rollback_confirm_from_the_inventory_when_lambda_cannot_be_read(operator_client, estate, live, settings, monkeypatch):
    from ops.aws import lambda_actions
    from ops.aws.errors import AwsError

    def denied(*a, **kw):
        raise AwsError("lambda", "GetAlias", "AccessDeniedException", "not allowed", permanent=True)

    monkeypatch.setattr(lambda_actions, "alias_get", denied)
    monkeypatch.setattr(lambda_actions, "function_triggers", lambda *a, **kw: ())
    url = reverse("alias-rollback", args=[estate.bad.pk, live.pk])
    html = operator_client.get(url).content.decode()
    assert "could not read live from Lambda (AccessDeniedException)" in html
    assert 'data-version="43"' in html and 'data-version="42"' in html  # side by side
    assert "v42 is the version live pointed to before" in html
    assert 'name="revision_id" value="rev-1"' in html and 'name="to_version" value="42"' in html
    # v43's error rate after the deploy, v42's before it
    sides = html.split('id="confirm-sides"')[1].split("</table>")[0]
    assert "%" in sides


def test_rollback_post_makes_one_job_per_key_and_redirects_to_it(operator_client, estate, live):
    url = reverse("alias-rollback", args=[estate.bad.pk, live.pk])
    data = {"idempotency_key": "k" * 16, "revision_id": "rev-1", "to_version": "42"}
    first = operator_client.post(url, data)
    second = operator_client.post(url, data)
    job = Job.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("job", args=[job.pk])
    assert job.kind == JobKind.ALIAS_ROLLBACK and job.resource_arn == live.arn
    assert job.parameters["revision_id"] == "rev-1" and job.parameters["to_version"] == "42"


def test_rollback_post_with_bad_values_answers_4xx_and_makes_nothing(operator_client, estate, live, monkeypatch):
    from ops.aws import lambda_actions

    monkeypatch.setattr(lambda_actions, "alias_get", lambda *a, **kw: None)
    url = reverse("alias-rollback", args=[estate.bad.pk, live.pk])
    assert operator_client.post(url, {"idempotency_key": "k" * 16, "revision_id": "rev-1", "to_version": "x"}).status_code == 400
    resp = operator_client.post(url, {"idempotency_key": "k" * 16, "revision_id": "rev-1", "to_version": "99"})
    assert resp.status_code == 409 and "not a published version" in resp.content.decode()
    assert not Job.objects.exists()


def test_throttle_confirm_says_what_happens_to_traffic_and_posts_a_job(operator_client, estate, no_enqueue):
    url = reverse("function-throttle", args=[estate.bad.pk])
    html = operator_client.get(url).content.decode()
    assert "All invocations of payments-api will be throttled" in html
    resp = operator_client.post(url, {"idempotency_key": "t" * 16, "expected": "", "reserved": "0"})
    assert resp.status_code == 302
    job = Job.objects.get()
    assert (job.kind, job.parameters["reserved"], job.parameters["expected"]) == (JobKind.FUNCTION_THROTTLE, 0, None)


def test_concurrency_page_previews_and_refuses_out_of_range(operator_client, estate):
    url = reverse("function-concurrency", args=[estate.bad.pk])
    assert "At most 25 concurrent executions" in operator_client.get(url + "?reserved=25").content.decode()
    resp = operator_client.get(url + "?reserved=-3")
    assert resp.status_code == 400  # the bad value is dropped and named
    resp = operator_client.post(url, {"idempotency_key": "c" * 16, "expected": "", "reserved": "999999"})
    assert resp.status_code == 400 and not Job.objects.exists()


def test_esm_toggle_confirm_and_post(operator_client, estate, no_enqueue):
    from django.utils import timezone

    esm = EventSourceMapping.objects.create(function=estate.ok, uuid="u-1", source_arn="arn:aws:sqs:us-east-1:123456789012:orders-q",
                                            state="Enabled", batch_size=10, last_seen=timezone.now())
    url = reverse("esm-toggle", args=[estate.ok.pk, esm.pk])
    html = operator_client.get(url).content.decode()
    assert "Lambda stops reading orders-q" in html and "nothing is deleted" in html
    assert operator_client.post(url, {"idempotency_key": "e" * 16, "enable": "0"}).status_code == 302
    job = Job.objects.get()
    assert job.kind == JobKind.ESM_DISABLE and job.resource_arn.startswith(estate.ok.arn + ":")
    # the page was for "disable": a POST saying "enable" is refused (the page is stale)
    resp = operator_client.post(url, {"idempotency_key": "f" * 16, "enable": "1"})
    assert resp.status_code == 409


def test_function_page_timeline_and_buttons(operator_client, estate, live):
    job = Job.objects.create(kind=JobKind.ALIAS_ROLLBACK, account=estate.account, region="us-east-1",
                             resource_arn=live.arn, target_label="payments-api:live → v42", actor_name="olga",
                             idempotency_key="j" * 16, status=JobStatus.SUCCEEDED)
    AliasChangeFactory(alias=live, at=estate.now - timedelta(minutes=1), from_version="43", to_version="42",
                       source=AliasChangeSource.ROLLBACK, job=job, actor_name="olga")
    html = operator_client.get(reverse("function", args=[estate.bad.pk])).content.decode()
    timeline = html.split('id="timeline"')[1].split("</section>")[0]
    assert 'data-source="rollback"' in timeline and f"#{job.pk}</a>" in timeline
    assert "v43 published" in timeline and "live v42 → v43 + v42 (10 %)" in timeline
    actions = html.split('id="function-actions"')[1].split("</div>")[0]
    assert "roll back live" in actions and "finish canary live" in actions and "throttle…" in actions
    viewer = Client()
    viewer.force_login(make_user("viewer", username="vic"))
    assert "function-actions" not in viewer.get(reverse("function", args=[estate.bad.pk])).content.decode()
