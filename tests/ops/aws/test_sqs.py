"""The SQS queue reads (ops/aws/sqs/__init__.py) against the sandbox."""

from __future__ import annotations

import pytest

from ops.aws import sqs
from ops.pollers.base import account_scope
from tests.ops.actions.redrive.helpers import make_dlq, put_messages

pytestmark = pytest.mark.django_db


def test_queue_depth_reuses_one_kept_client_across_calls(aws, monkeypatch):
    # The redrive loop reads the depth every half second while it waits: no client per call.
    dlq = make_dlq()
    put_messages(dlq, ["a", "b", "c"])
    monkeypatch.setattr(sqs, "client", lambda *a, **k: pytest.fail("queue_depth built a fresh client"))
    scope = account_scope(dlq.account, "us-east-1")
    first = sqs.queue_depth(scope, dlq.url)
    second = sqs.queue_depth(scope, dlq.url)
    assert (first.visible, first.in_flight) == (second.visible, second.in_flight) == (3, 0)
