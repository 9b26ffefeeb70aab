"""Reading jobs: a function's timeline, the status page's recent poll jobs."""

import pytest
from django.urls import reverse

from ops.models import Job, JobStatus, Role
from ops.selectors.jobs import jobs_for_function, jobs_for_target, jobs_recent
from tests.factories import AccountFactory, FunctionFactory, make_user

pytestmark = pytest.mark.django_db


def _job(account, key, *, kind="alias.rollback", arn="", region="us-east-1", status=JobStatus.SUCCEEDED, **extra):
    return Job.objects.create(kind=kind, account=account, region=region, resource_arn=arn, actor_name="olga",
                              idempotency_key=key, status=status, **extra)


def test_a_functions_timeline_holds_its_own_and_its_aliases_jobs_only():
    fn = FunctionFactory(name="fn-1")
    neighbour = FunctionFactory(name="fn-10", account=fn.account)  # its ARN starts with fn-1's
    own = _job(fn.account, "a", arn=fn.arn)
    alias = _job(fn.account, "b", arn=f"{fn.arn}:live")
    _job(fn.account, "c", arn=neighbour.arn)
    _job(fn.account, "d", kind="poll.inventory")
    assert [j.pk for j in jobs_for_function(function=fn)] == [alias.pk, own.pk]
    assert [j.pk for j in jobs_for_target(account_id=fn.account_id, region="us-east-1", resource_arn=fn.arn)] == [own.pk]


def test_a_functions_timeline_holds_the_jobs_on_its_dlqs_in_one_query(django_assert_num_queries):
    from ops.models import FunctionQueue, QueueRole
    from tests.factories import QueueFactory

    fn = FunctionFactory(name="payments")
    dlq = QueueFactory(account=fn.account, name="payments-dlq")
    other = QueueFactory(account=fn.account, name="other-dlq")
    FunctionQueue.objects.create(function=fn, queue=dlq, role=QueueRole.LAMBDA_DLQ)
    redrive = _job(fn.account, "r", kind="dlq.redrive", arn=dlq.arn)
    _job(fn.account, "o", kind="dlq.purge", arn=other.arn)
    own = _job(fn.account, "a", arn=fn.arn)
    with django_assert_num_queries(1):
        assert [j.pk for j in jobs_for_function(function=fn)] == [own.pk, redrive.pk]


def test_recent_jobs_of_a_kind_newest_first_with_a_limit(django_assert_num_queries):
    account = AccountFactory(name="prod")
    polls = [_job(account, f"p{n}", kind="poll.inventory") for n in range(4)]
    _job(account, "r", arn="arn:aws:lambda:us-east-1:1:function:f:live")
    with django_assert_num_queries(1):
        recent = jobs_recent(kind="poll.inventory", limit=3)
        assert [j.account.name for j in recent] == ["prod"] * 3
    assert [j.pk for j in recent] == [p.pk for p in reversed(polls)][:3]


def test_the_status_page_lists_the_last_poll_jobs_with_their_state(client):
    account = AccountFactory(name="prod", regions=["us-east-1"])
    _job(account, "ok", kind="poll.inventory", target_label="prod/us-east-1", result={"ran": True, "items": 12})
    _job(account, "bad", kind="poll.inventory", target_label="prod/us-east-1", status=JobStatus.FAILED,
         error="worker lost: no heartbeat for 75 s")
    client.force_login(make_user(Role.VIEWER))
    body = client.get(reverse("status")).content.decode()
    section = body[body.index('id="poll-jobs"'):]
    assert "12 functions" in section and "worker lost: no heartbeat for 75 s" in section
    assert ">succeeded<" in section and ">failed<" in section


def test_the_function_page_shows_its_jobs_and_says_when_there_are_none(client):
    fn = FunctionFactory(name="checkout-api")
    client.force_login(make_user(Role.VIEWER))
    url = reverse("function", args=[fn.pk])
    empty = client.get(url).content.decode()
    assert "No operator action has run on this function or its aliases yet." in empty
    _job(fn.account, "rb", kind="poll.inventory", arn=f"{fn.arn}:live", target_label="live", status=JobStatus.FAILED,
         error="alias moved since the confirm page was rendered", progress_done=0)
    _job(fn.account, "rd", arn=fn.arn, progress_done=40, progress_total=50, progress_failed=2)
    body = client.get(url).content.decode()
    section = body[body.index('aria-labelledby="jobs-h"'):body.index("<h2>Configuration</h2>")]
    assert "alias moved since the confirm page was rendered" in section and ">failed<" in section
    assert "40 of 50 · 2 failed" in section and ">succeeded<" in section
    assert section.index("#%d" % Job.objects.get(idempotency_key="rd").pk) < section.index(
        "#%d" % Job.objects.get(idempotency_key="rb").pk
    )  # newest first
