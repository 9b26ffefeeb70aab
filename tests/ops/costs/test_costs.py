"""The cost model against AWS's worked examples (https://aws.amazon.com/lambda/pricing/, US East).

AWS's Example 1 (3 M requests/month, 512 MB, 1 s each, x86) prints compute $18.34 and total
$18.74: it multiplies 1,100,000 billable GB-s by the *rounded* $0.00001667. At the listed rate
$0.0000166667 the same usage is $18.3334 → $18.33. Both are checked below so the difference is
explicit rather than hidden.
"""

from dataclasses import replace
from datetime import timedelta

import pytest

from ops.costs import ephemeral_gb_seconds, gb_seconds, lambda_cost, monthly_bill
from ops.costs import pricing
from ops.costs.functions import function_cost, rightsizing_hint
from ops.models import MinuteStat, Series
from tests.clock import hours_ago

US = "us-east-1"


def test_aws_example_1_x86_three_million_requests_at_512_mb_one_second():
    gbs = 3_000_000 * gb_seconds(memory_mb=512, billed_ms=1000)
    assert gbs == 1_500_000
    bill = monthly_bill(region=US, architecture="x86_64", requests=3_000_000, gb_seconds=gbs).cents()
    assert (bill["compute"], bill["requests"], bill["total"]) == (18.33, 0.40, 18.73)


def test_aws_example_1_to_the_cent_with_the_rate_the_example_uses(monkeypatch):
    x86 = pricing._DEFAULT["x86_64"]
    rounded = replace(x86, gb_second_usd=0.00001667, tiers=(pricing.Tier(None, 0.00001667),))
    monkeypatch.setitem(pricing._DEFAULT, "x86_64", rounded)
    bill = monthly_bill(region=US, architecture="x86_64", requests=3_000_000, gb_seconds=1_500_000).cents()
    assert (bill["compute"], bill["requests"], bill["total"]) == (18.34, 0.40, 18.74)


def test_example_1_on_arm64():
    # 1,100,000 GB-s × $0.0000133334 = $14.66674
    bill = monthly_bill(region=US, architecture="arm64", requests=3_000_000, gb_seconds=1_500_000).cents()
    assert (bill["compute"], bill["requests"], bill["total"]) == (14.67, 0.40, 15.07)


def test_aws_example_2_x86_thirty_million_requests_at_128_mb_200_ms():
    # 30 M × 0.2 s × 0.125 GB = 750,000 GB-s; − 400,000 free = 350,000 × $0.0000166667 = $5.83;
    # requests 29 M × $0.20/M = $5.80; total $11.63 (AWS's figures).
    gbs = 30_000_000 * gb_seconds(memory_mb=128, billed_ms=200)
    bill = monthly_bill(region=US, architecture="x86_64", requests=30_000_000, gb_seconds=gbs).cents()
    assert (bill["compute"], bill["requests"], bill["total"]) == (5.83, 5.80, 11.63)
    arm = monthly_bill(region=US, architecture="arm64", requests=30_000_000, gb_seconds=gbs).cents()
    assert (arm["compute"], arm["total"]) == (4.67, 10.47)  # 350,000 × $0.0000133334 = $4.666690


def test_aws_provisioned_concurrency_example():
    # 1,024 MB, 1,000 provisioned for 2 h, 1.2 M invocations of 1 s on them:
    # PC 7,200,000 GB-s × $0.0000041667 = $30.00; duration 1,200,000 GB-s × $0.0000097222 = $11.67;
    # requests 1.2 M × $0.20/M = $0.24; total $41.91. No free tier for provisioned concurrency.
    bill = monthly_bill(
        region=US,
        architecture="x86_64",
        requests=0,
        gb_seconds=0,
        pc_allocated_gb_seconds=1000 * 1.0 * 7200,
        pc_requests=1_200_000,
        pc_gb_seconds=1_200_000,
        free_tier=False,
    ).cents()
    assert (bill["provisioned"], bill["provisioned_duration"], bill["requests"], bill["total"]) == (30.00, 11.67, 0.24, 41.91)


def test_volume_tiers():
    # 10 B GB-s on x86: 6 B × $0.0000166667 + 4 B × $0.000015 = $100,000.20 + $60,000 = $160,000.20
    bill = monthly_bill(region=US, architecture="x86_64", requests=0, gb_seconds=10e9, free_tier=False).cents()
    assert bill["compute"] == 160_000.20
    # Above 15 B GB-s the third tier applies; starting after 14 B already billed this month:
    usd = pricing.tiered_compute_usd(price=pricing.price_for(region=US, architecture="x86_64"), gb_seconds=2e9, already_used_gb_s=14e9)
    assert usd == pytest.approx(1e9 * 0.000015 + 1e9 * 0.0000133334)
    arm = monthly_bill(region=US, architecture="arm64", requests=0, gb_seconds=10e9, free_tier=False).cents()
    assert arm["compute"] == round(7.5e9 * 0.0000133334 + 2.5e9 * 0.0000120001, 2)


def test_ephemeral_storage_above_512_mb():
    # 10,240 MB configured: 9.5 GB extra × 3 M × 1 s = 28.5 M GB-s × $0.0000000309 = $0.88
    extra = 3_000_000 * ephemeral_gb_seconds(ephemeral_mb=10240, billed_ms=1000)
    assert extra == 28_500_000
    assert monthly_bill(region=US, architecture="x86_64", requests=0, gb_seconds=0, ephemeral_gb_seconds=extra).cents()["ephemeral"] == 0.88
    assert ephemeral_gb_seconds(ephemeral_mb=512, billed_ms=1000) == 0


def test_lambda_cost_keeps_its_signature():
    assert lambda_cost(region=US, architecture="x86_64", requests=1_000_000, gb_seconds=0) == pytest.approx(0.20)
    assert lambda_cost(region=US, architecture="arm64", requests=0, gb_seconds=1_000_000) == pytest.approx(13.3334)
    assert lambda_cost(region="eu-west-1", architecture="mips", requests=0, gb_seconds=1) == pytest.approx(0.0000166667)


@pytest.mark.django_db
def test_function_cost_prefers_billed_duration_and_rightsizing_hint():
    from tests.factories import FunctionFactory

    fn = FunctionFactory(memory_mb=1024, architecture="x86_64")
    s = Series.objects.create(function=fn, kind="function", qualifier="")
    now = hours_ago(0)
    rows = []
    for d in range(7):
        ts = now - timedelta(days=d, hours=1)
        # 1,000 invocations seen by metrics; 1,000 REPORT lines, 200 ms billed each at 1 GB
        rows.append(MinuteStat(series=s, ts=ts, invocations=1000, duration_avg=150.0, reports=1000, billed_gb_s=200.0, memory_used_max_mb=180, memory_size_mb=1024))
    # one minute with invocations but no REPORT lines: Duration avg × invocations × memory
    rows.append(MinuteStat(series=s, ts=now - timedelta(minutes=5), invocations=100, duration_avg=500.0))
    MinuteStat.objects.bulk_create(rows)

    cost = function_cost(function=fn, since=now - timedelta(days=7), until=now)
    assert cost.invocations == 7100 and not cost.from_reports
    assert cost.gb_seconds == pytest.approx(7 * 200.0 + 100 * 0.5 * 1.0)
    assert cost.usd == pytest.approx(7100 * 0.2e-6 + 1450 * 0.0000166667)
    assert cost.usd_per_million == pytest.approx(cost.usd / 7100 * 1e6)

    hint = rightsizing_hint(function=fn, now=now)
    assert (hint.configured_mb, hint.max_used_mb, hint.suggested_mb) == (1024, 180, 256)
    # 1,400 GB-s a week × (1 − 256/1024) × 30/7 × $0.0000166667
    assert hint.monthly_saving_usd == round(1400 * 0.75 * 30 / 7 * 0.0000166667, 2)
    MinuteStat.objects.filter(series=s).update(memory_used_max_mb=700)
    assert rightsizing_hint(function=fn, now=now) is None
