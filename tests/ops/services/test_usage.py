from datetime import datetime, timedelta, timezone

import pytest

from ops.aws import usage
from ops.costs.api import api_call_cost
from ops.models import ApiUsage
from ops.pollers.metrics import poll as metrics
from ops.selectors.usage import api_spend
from ops.services.usage import api_usage_flush
from tests.clock import hours_ago
from tests.factories import AccountFactory, FunctionFactory, make_user
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_prices():
    assert api_call_cost(service="cloudwatch", operation="GetMetricData", calls=1, units=500) == pytest.approx(0.005)
    assert api_call_cost(service="cloudwatch", operation="ListMetrics", calls=1000) == pytest.approx(0.01)
    assert api_call_cost(service="logs", operation="StartQuery", calls=1, bytes_scanned=2e9) == pytest.approx(0.01)
    assert api_call_cost(service="logs", operation="FilterLogEvents", calls=1000) == 0
    assert api_call_cost(service="xray", operation="BatchGetTraces", calls=1, units=5) == pytest.approx(2.5e-6)
    assert api_call_cost(service="sqs", operation="ReceiveMessage", calls=1_000_000) == pytest.approx(0.40)
    assert api_call_cost(service="lambda", operation="ListFunctions", calls=1000) == 0


def test_the_metrics_poll_is_counted_priced_and_shown_on_the_status_page(aws, settings, client):
    settings.METRICS_PERCENTILES = []
    usage.drain_all()
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="orders")
    FunctionFactory(account=account, name="mailer")
    assert run("metrics", account, metrics.metrics_poll).ok
    at = datetime.now(timezone.utc)  # one instant for the flushes and the read, so no midnight falls between
    assert api_usage_flush(now=at) >= 1
    row = ApiUsage.objects.get(service="cloudwatch", operation="GetMetricData")
    per_fn = 12  # core 5 + concurrency + async 6, no percentiles
    # the scope's call (3 concurrency + 5 aggregate counts), then the functions'
    assert (row.calls, row.units) == (2, 2 * per_fn + 8)
    assert row.cost_usd == pytest.approx((2 * per_fn + 8) * 0.01 / 1000)
    assert row.account_id == ACCOUNT_ID and row.region == REGION

    # a second flush in the same hour adds to the row
    usage.record_units(service="logs", operation="StartQuery", account_id=ACCOUNT_ID, region=REGION, units=1e9)
    api_usage_flush(now=at)
    spend = api_spend(now=at)
    assert spend.today_usd == pytest.approx(row.cost_usd + 0.005)
    assert [o.operation for o in spend.by_operation][:2] == ["StartQuery", "GetMetricData"]
    assert spend.cadences and spend.cadences[0].busy_s == 60

    client.force_login(make_user())
    page = client.get("/status/")
    assert page.status_code == 200
    assert b"aws-spend" in page.content and b"GetMetricData" in page.content


def test_spend_outside_the_day_is_not_today():
    # 01:30: one hour back is today; three hours back is yesterday but within the last 24 h;
    # thirty hours back is neither
    now = hours_ago(days=1).replace(hour=1, minute=30)
    ApiUsage.objects.create(hour=now - timedelta(hours=1), service="cloudwatch", operation="GetMetricData", account_id="1", region="r", cost_usd=0.5)
    ApiUsage.objects.create(hour=now - timedelta(hours=3), service="cloudwatch", operation="GetMetricData", account_id="1", region="r", cost_usd=1.0)
    ApiUsage.objects.create(hour=now - timedelta(hours=30), service="cloudwatch", operation="GetMetricData", account_id="1", region="r", cost_usd=5.0)
    spend = api_spend(now=now)
    assert (spend.today_usd, spend.last_24h_usd) == (0.5, 1.5)
