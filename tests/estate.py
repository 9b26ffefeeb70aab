"""A small estate with known numbers, shared by the page, API and selector tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import Function, FunctionQueue
from tests.factories import (
    AccountFactory,
    AliasChangeFactory,
    AliasFactory,
    ErrorGroupFactory,
    ErrorMinuteFactory,
    FunctionFactory,
    LogLineFactory,
    PollStatusFactory,
    QueueFactory,
    QueueStatFactory,
    RegionStatFactory,
    function_series,
    make_user,
    minutes,
)


@dataclass
class Estate:
    now: object
    account: object
    bad: Function  # errors began 30 min ago, 5 min after live → v43
    ok: Function
    throttled: Function
    deploy: object
    group: object


def _build(now) -> Estate:
    start = now.replace(second=0, microsecond=0) - timedelta(hours=6)
    account = AccountFactory(name="prod", account_id="123456789012")
    PollStatusFactory(account=account, source="metrics", last_success_at=now)
    bad = FunctionFactory(account=account, name="payments-api", memory_mb=1024, timeout_s=6, tags={"team": "pay"})
    ok = FunctionFactory(account=account, name="orders-worker", memory_mb=512, timeout_s=30)
    throttled = FunctionFactory(account=account, name="ingest-stream", reserved_concurrency=50)
    live = AliasFactory(function=bad, name="live", version="43", weights={"42": 0.1})
    deploy_at = now.replace(second=0, microsecond=0) - timedelta(minutes=35)
    deploy = AliasChangeFactory(alias=live, at=deploy_at, from_version="42", to_version="43", to_weights={"42": 0.1})

    s_bad = function_series(bad)
    onset = 360 - 30  # minute index where errors begin
    minutes(
        s_bad,
        start=start,
        count=360,
        invocations=100,
        errors=lambda i: 80 if i >= onset else 0,
        duration_p99=lambda i: 840.0 if i >= onset else 310.0,
        reports=100,
        cold_starts=lambda i: 1 if i % 60 == 0 else 0,
        billed_gb_s=5.0,
        memory_used_max_mb=310,
        memory_size_mb=1024,
        concurrency_max=12.0,
    )
    v43 = function_series(bad, kind="version", qualifier="43")
    v42 = function_series(bad, kind="version", qualifier="42")
    minutes(v43, start=start + timedelta(minutes=325), count=35, invocations=90, errors=lambda i: 80 if i >= 5 else 0,
            duration_p99=840.0)
    minutes(v42, start=start, count=360, invocations=lambda i: 10 if i >= 325 else 100, errors=0, duration_p99=310.0)
    minutes(function_series(ok), start=start, count=360, invocations=50, errors=0, duration_p99=200.0, reports=50,
            billed_gb_s=1.0, memory_used_max_mb=200)
    minutes(function_series(throttled), start=start, count=360, invocations=400, throttles=lambda i: 3 if i > 300 else 0,
            concurrency_max=50.0)
    group = ErrorGroupFactory(function=bad, error_type="KeyError", message="'id'", first_seen=now - timedelta(minutes=30),
                              last_seen=now, samples=[{"ts": "14:02", "request_id": "r-1", "line": "KeyError: 'id'", "version": "43"}])
    for i in range(30):
        ErrorMinuteFactory(group=group, ts=(now - timedelta(minutes=30 - i)).replace(second=0, microsecond=0), count=80)
    LogLineFactory(function=bad, group=group, ts=(now - timedelta(minutes=10)).replace(second=5, microsecond=0),
                   message="[ERROR] KeyError: 'id' in handler")
    dlq = QueueFactory(account=account, name="payments-dlq")
    FunctionQueue.objects.create(function=bad, queue=dlq, role="lambda_dlq")
    QueueStatFactory(queue=dlq, ts=now.replace(second=0, microsecond=0) - timedelta(minutes=2), visible_max=380)
    RegionStatFactory(account=account, region="us-east-1", ts=now.replace(second=0, microsecond=0) - timedelta(minutes=3),
                      claimed_concurrency_max=612)
    # what the metrics poller publishes after storing these minutes: all known up to this minute
    Function.objects.filter(pk__in=[bad.pk, ok.pk, throttled.pk]).update(metrics_known_until=start + timedelta(hours=6))
    for f in (bad, ok, throttled):
        f.refresh_from_db()
    return Estate(now=now, account=account, bad=bad, ok=ok, throttled=throttled, deploy=deploy, group=group)


@pytest.fixture
def estate(db) -> Estate:
    return _build(timezone.now())


@pytest.fixture
def viewer(db):
    return make_user("viewer", username="alice")


@pytest.fixture
def client_in(client, viewer):
    client.force_login(viewer)
    return client
