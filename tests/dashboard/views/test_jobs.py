"""The job page: lifecycle, progress, log, the kind's panel; its live partial; cancel (operators only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.job_panels import _PANELS, job_panel_register
from ops.actions.runner import job_request
from ops.models import JobKind, JobStatus
from tests.factories import AccountFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(no_enqueue):
    account = AccountFactory(name="prod", regions=["us-east-1"])
    operator = make_user("operator", username="olga")
    return job_request(
        kind=JobKind.POLL_INVENTORY, account=account, region="us-east-1", user=operator,
        target_label="prod/us-east-1", idempotency_key="k" * 12,
    ).job


@pytest.fixture
def no_enqueue(monkeypatch):
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: None)


def test_job_page_shows_its_state_progress_and_log(client, job):
    job.progress_done, job.progress_total, job.progress_failed = 7, 10, 2
    job.save(update_fields=["progress_done", "progress_total", "progress_failed"])
    client.force_login(make_user("viewer", username="vera"))
    html = client.get(reverse("job", args=[job.pk])).content.decode()
    assert "Inventory poll · prod/us-east-1" in html
    assert 'data-status="pending"' in html
    assert '<progress value="7" max="10">' in html
    assert "7 of 10 done" in html and "2 failed" in html
    assert "requested by olga" in html  # the log's first step
    assert f'hx-get="{reverse("job-progress", args=[job.pk])}"' in html  # live while active
    assert "cancel</button>" not in html  # a viewer sees no cancel button


def test_finished_job_stops_refreshing(client, job):
    job.status = JobStatus.SUCCEEDED
    job.save(update_fields=["status"])
    client.force_login(make_user("viewer", username="vera"))
    html = client.get(reverse("job-progress", args=[job.pk])).content.decode()
    assert 'data-status="succeeded"' in html and "hx-get" not in html


def test_a_kinds_panel_is_included_with_its_context(client, job):
    job_panel_register(kind=JobKind.POLL_INVENTORY, template="dashboard/partials/_job_state.html",
                       context=lambda j: {"job": j})
    try:
        client.force_login(make_user("viewer", username="vera"))
        html = client.get(reverse("job", args=[job.pk])).content.decode()
        assert html.count('<span class="badge warn">pending</span>') == 2  # the header's and the panel's
    finally:
        _PANELS.pop(JobKind.POLL_INVENTORY, None)


def test_cancel_needs_the_operator_role_and_cancels_a_pending_job(client, job):
    client.force_login(make_user("viewer", username="vera"))
    assert client.post(reverse("job-cancel", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    client.force_login(make_user("operator", username="otto"))
    assert "cancel</button>" in client.get(reverse("job", args=[job.pk])).content.decode()
    response = client.post(reverse("job-cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert f"Job #{job.pk} cancelled." in response.content.decode()


def test_unknown_job_is_404(client):
    client.force_login(make_user("viewer", username="vera"))
    assert client.get(reverse("job", args=[999999])).status_code == 404
