"""The Job table's own guarantees, straight against Postgres (no runner in between)."""

import pytest
from django.db import IntegrityError, transaction

from ops.models import JOB_ACTIVE, JOB_TERMINAL, Job, JobStatus
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _job(account, key, status=JobStatus.PENDING, resource_arn=""):
    return Job.objects.create(kind="poll.inventory", account=account, region="us-east-1", resource_arn=resource_arn,
                              actor_name="olga", idempotency_key=key, status=status)


def test_the_status_groups_cover_every_status_once():
    assert set(JOB_ACTIVE) == {"pending", "running"}
    assert set(JOB_TERMINAL) == {"succeeded", "failed", "cancelled"}
    assert sorted(JOB_ACTIVE + JOB_TERMINAL) == sorted(JobStatus.values)


def test_the_idempotency_key_is_unique():
    account = AccountFactory()
    _job(account, "key-1", status=JobStatus.SUCCEEDED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _job(account, "key-1", status=JobStatus.SUCCEEDED, resource_arn="arn:other")


@pytest.mark.parametrize("active", JOB_ACTIVE)
def test_at_most_one_active_job_per_target(active):
    account = AccountFactory()
    _job(account, "first", status=active)
    with pytest.raises(IntegrityError, match="job_one_active_per_target"), transaction.atomic():
        _job(account, "second")
    # another target, or any number of finished jobs on the same one, are fine
    _job(account, "other-target", resource_arn="arn:aws:lambda:us-east-1:1:function:f")
    for n, terminal in enumerate(JOB_TERMINAL):
        _job(account, f"done-{n}", status=terminal)
    assert Job.objects.filter(account=account, resource_arn="").count() == 4
