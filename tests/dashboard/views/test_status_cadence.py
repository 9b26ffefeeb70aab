"""The status page's cadence table and /status/cadence/: each function's cadence and why, built
from factories (no AWS: the plan and the triggers are rows)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import DetectTrigger, MetricsCadence
from tests.factories import AccountFactory, FunctionFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def scope(settings):
    settings.METRICS_BUSY_POLL_SECONDS = 1200
    settings.METRICS_IDLE_POLL_SECONDS = 1800
    now = timezone.now()
    prod = AccountFactory(name="prod", regions=["us-east-1"])
    FunctionFactory(account=prod, name="checkout", last_invoked_at=now - timedelta(minutes=5))
    FunctionFactory(account=prod, name="nightly", last_invoked_at=now - timedelta(days=2))
    FunctionFactory(account=prod, name="never")
    MetricsCadence.objects.create(account=prod, region="us-east-1", busy_s=2400, idle_s=2400, usd_per_day=1.5,
                                  planned_at=now, share_usd=1.2, held_back=True)
    return prod, now


def test_reasons_per_function_and_the_scope_summary(client, scope):
    prod, now = scope
    client.force_login(make_user())
    rows = client.get("/status/cadence/").content.decode()
    assert "busy, held back by budget (wanted every 1200 s)" in rows
    assert "idle (last invoked" in rows and "held back by budget (wanted every 1800 s)" in rows
    assert "no invocation seen" in rows
    status = client.get("/status/").content.decode()
    assert 'id="cadence-scopes"' in status and "3 held back by budget" in status and "$1.50/day" in status

    # a trigger: the function invoked in the last hours is read every minute, the others not
    MetricsCadence.objects.filter(account=prod).update(triggered_s=60, triggered_functions=1, held_back=False,
                                                       busy_s=1200, idle_s=1800)
    DetectTrigger.objects.create(account=prod, region="us-east-1", signal="throttles", started_at=now - timedelta(minutes=2),
                                 last_breach_at=now - timedelta(minutes=2), value=40, baseline=0, threshold=5)
    page = client.get("/status/cadence/", {"reason": "triggered"}).content.decode()
    assert "triggered by us-east-1 throttles" in page and ">checkout<" in page and ">nightly<" not in page
    idle = client.get("/status/cadence/", {"reason": "idle"})
    assert idle.status_code == 200 and ">nightly<" in idle.content.decode() and ">never<" in idle.content.decode()
    status = client.get("/status/").content.decode()
    assert "1 triggered" in status and 'data-active="1"' in status and "40 /min" in status


@pytest.mark.parametrize("params", [{"account": "abc"}, {"reason": "nope"}, {"region": "x" * 300}, {"page": "0"}])
def test_a_bad_filter_is_a_400_that_still_lists(client, scope, params):
    client.force_login(make_user())
    response = client.get("/status/cadence/", params)
    assert response.status_code == 400 and b"function-cadence" in response.content


def test_the_page_needs_a_login(client, scope):
    assert client.get("/status/cadence/").status_code == 302


def test_a_trigger_the_budget_cannot_pay_every_minute_for_says_so(client, scope, settings):
    prod, now = scope
    settings.METRICS_POLL_SECONDS = 60
    MetricsCadence.objects.filter(account=prod).update(triggered_s=180, triggered_functions=1, held_back=True,
                                                       busy_s=1200, idle_s=1800)
    DetectTrigger.objects.create(account=prod, region="us-east-1", signal="errors", started_at=now,
                                 last_breach_at=now, value=90, baseline=20, threshold=38)
    client.force_login(make_user())
    page = client.get("/status/cadence/", {"reason": "held_back"}).content.decode()
    assert "triggered by us-east-1 errors" in page and "held back by budget to every 180 s" in page
    assert ">checkout<" in page and ">nightly<" not in page
