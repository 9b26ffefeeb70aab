"""Helpers shared by the telemetry tests: seed moto with metrics and logs, run a poll."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config

from ops.pollers.base import poll_run

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
FAST = Config(retries={"max_attempts": 1}, disable_request_compression=True)


def minute(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(second=0, microsecond=0)


def now_minute() -> datetime:
    return minute(datetime.now(timezone.utc))


def cw():
    return boto3.client("cloudwatch", region_name=REGION, config=FAST)


def put_points(metric: str, dims: dict[str, str], points: dict[datetime, float], namespace: str = "AWS/Lambda", unit=None):
    data = []
    for ts, v in points.items():
        d = {"MetricName": metric, "Dimensions": [{"Name": k, "Value": x} for k, x in dims.items()], "Timestamp": ts, "Value": v}
        if unit:
            d["Unit"] = unit
        data.append(d)
    client = cw()
    for i in range(0, len(data), 500):
        client.put_metric_data(Namespace=namespace, MetricData=data[i : i + 500])


def run(source: str, account, work):
    return poll_run(source=source, account=account, region=REGION, work=work)


def at_clock(monkeypatch, module, when: datetime):
    monkeypatch.setattr(module, "now", lambda: when)


def shift(ts: datetime, **kw) -> datetime:
    return ts + timedelta(**kw)
