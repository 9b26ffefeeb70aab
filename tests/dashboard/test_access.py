import pytest
from django.test import Client
from django.urls import reverse

from ops.models import AuditEntry, Job, PollStatus, Role
from tests.factories import AccountFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["overview", "functions", "status"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_healthz_needs_no_login_and_reports_db_and_redis(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True and body["checks"]["redis"]["ok"] is True


def test_login_page_renders_and_logs_in(client):
    make_user(Role.VIEWER, "vera")
    assert "Log in to Lambda Ops" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("login"), {"username": "vera", "password": "correct-horse-42"})
    assert response.status_code == 302
    assert client.get(reverse("functions")).status_code == 200


def test_viewer_cannot_post_an_operator_endpoint(client):
    account = AccountFactory(regions=["us-east-1"])
    client.force_login(make_user(Role.VIEWER))
    response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()


def test_operator_poll_now_becomes_a_job_queued_and_audited(client, django_capture_on_commit_callbacks, monkeypatch):
    from ops.tasks import actions

    queued = []
    monkeypatch.setattr(actions.job_run, "delay", lambda *args: queued.append(args))
    account = AccountFactory(regions=["us-east-1"])
    operator = make_user(Role.OPERATOR, "olga")
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.kind, job.account, job.region, job.status, job.actor) == (
        "poll.inventory", account, "us-east-1", "pending", operator
    )
    assert queued == [(job.pk,)]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.result) == (
        operator, "poll.inventory", account.account_id, "requested"
    )


@pytest.mark.parametrize("form,message", [
    ({"account": "abc", "region": "us-east-1"}, "The account must be a whole number"),
    ({"account": "1.5", "region": "us-east-1"}, "The account must be a whole number"),
    ({"region": "us-east-1"}, "No account was given."),
    ({"account": "999999", "region": "us-east-1"}, "No account with id 999999."),
    ({"account": "{pk}", "region": "mars-1"}, "Not an AWS region name"),
    ({"account": "{pk}", "region": "eu-west-1"}, "eu-west-1 is not a region of"),
    ({"account": "{pk}", "region": "us-east-1", "idempotency_key": "<script>"}, "The request key is malformed"),
])
def test_operator_poll_now_explains_a_bad_form_value(client, monkeypatch, form, message):
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda *a: pytest.fail("must not queue"))
    account = AccountFactory(regions=["us-east-1"])
    client.force_login(make_user(Role.OPERATOR))
    data = {k: v.replace("{pk}", str(account.pk)) for k, v in form.items()}
    response = client.post(reverse("poll_now"), data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists() and not AuditEntry.objects.exists()


def test_csrf_is_enforced_on_posts():
    account = AccountFactory(regions=["us-east-1"])
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(make_user(Role.OPERATOR))
    response = csrf_client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_get_is_not_allowed_on_operator_endpoint(client):
    client.force_login(make_user(Role.OPERATOR))
    assert client.get(reverse("poll_now")).status_code == 405


def test_poll_now_refuses_a_disabled_account_and_a_job_for_one_disabled_meanwhile_reads_nothing(client, monkeypatch):
    from ops.actions.runner import job_run
    from ops.tasks import actions

    monkeypatch.setattr(actions.job_run, "delay", lambda *a: None)
    account = AccountFactory(name="retired", regions=["us-east-1"], enabled=False)
    client.force_login(make_user(Role.OPERATOR))
    response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"}, follow=True)
    assert "retired is disabled; an admin must enable it before it is polled." in response.content.decode()
    assert not Job.objects.exists()
    # Asked while enabled, disabled before a worker picked it up: failed with the reason, no AWS call.
    account.enabled = True
    account.save(update_fields=["enabled"])
    client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    job = Job.objects.get()
    account.enabled = False
    account.save(update_fields=["enabled"])
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "retired was disabled before the poll ran; nothing was read")
    assert not PollStatus.objects.filter(account=account).exists()


def test_poll_now_answers_when_the_broker_is_down_and_the_job_waits_for_the_sweeper(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    from ops.tasks import actions

    def down(*args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(actions.job_run, "delay", down)
    account = AccountFactory(regions=["us-east-1"])
    client.force_login(make_user(Role.OPERATOR))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("poll_now"), {"account": account.pk, "region": "us-east-1"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == "pending" and job.enqueued_at is not None  # the sweeper re-sends it once stale
