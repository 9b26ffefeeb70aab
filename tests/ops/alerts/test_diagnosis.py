"""The diagnosis on known data (tests/estate.py: payments-api's errors began 30 min ago, 5 min
after live moved v42 → v43): each line's numbers and its evidence link; missing data says so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ops.alerts.diagnosis import incident_diagnose, incident_diagnosis
from ops.models import AliasChange, LogLine
from ops.models.alerts import Incident
from tests.factories import ChangeFactory, FiveMinuteStatFactory, FunctionFactory, QueueStatFactory, function_series


def _incident(fn, began):
    return Incident.objects.create(function=fn, title=f"{fn.name}: error rate > 5 %", began_at=began, opened_at=began)


def _lines(incident, now) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in incident_diagnosis(incident=incident, now=now):
        out.setdefault(line["key"], []).append(line)
    return out


@pytest.mark.django_db
def test_each_line_on_known_data(estate):
    now = estate.now
    floor = now.replace(second=0, microsecond=0)
    began = floor - timedelta(minutes=30)
    AliasChange.objects.filter(pk=estate.deploy.pk).update(actor_name="role/deploy-bot", tool="CodeDeploy")
    dlq = estate.bad.queue_links.get().queue
    QueueStatFactory(queue=dlq, ts=floor - timedelta(minutes=20), visible_max=300)  # 300 → 380 in 15 min
    series = function_series(estate.bad)
    yesterday = began - timedelta(days=1) - timedelta(minutes=30)
    yesterday = yesterday.replace(minute=yesterday.minute - yesterday.minute % 5)  # 5-minute rows' alignment
    for i in range(12):  # the same hour yesterday, in 5-minute rows: 6,000 invocations, 12 errors
        FiveMinuteStatFactory(series=series, ts=yesterday + timedelta(minutes=5 * i), invocations=500, errors=1, throttles=0)
    incident = _incident(estate.bad, began)
    lines = _lines(incident, now)
    fn = estate.bad.pk

    assert lines["began"][0]["text"].startswith(f"Began {began:%Y-%m-%d %H:%M} UTC, ")
    assert "Since then 80 % errors of 3,000 invocations." in lines["began"][0]["text"]
    assert lines["began"][0]["url"].startswith(f"/functions/{fn}/?range=custom&start=")

    deploy = estate.deploy
    assert lines["deploy"][0]["text"] == (f"Deploy 5 min before: live v42 → v43 by role/deploy-bot (CodeDeploy), "
                                          f"{deploy.at:%H:%M} UTC.")
    assert lines["deploy"][0]["url"].endswith("#deploys-h")

    assert lines["versions"][0]["text"] == ("v43 errors 76 % of 3,150 invocations since the deploy; "
                                            "v42 had 0.0 % of 6,000 in the hour before.")
    assert lines["versions"][0]["url"].endswith("#versions-h")

    request_id = LogLine.objects.get(function=estate.bad).request_id
    assert lines["error"][0]["text"] == (f"Top error since it began: KeyError: 'id' (2,400 times); "
                                         f"e.g. request {request_id}: [ERROR] KeyError: 'id' in handler.")
    assert lines["error"][0]["request_id"] == request_id and lines["error"][0]["url"].endswith("#groups-h")

    assert lines["dlq"][0] == {"key": "dlq", "url": f"/dlqs/{dlq.pk}/",
                               "text": "DLQ payments-dlq is filling: 380 messages, +80 in the last 15 min (5.3/min)."}

    assert lines["throttle"][0]["text"] == ("Not throttled since it began: peak concurrency 12 (no reserved concurrency); "
                                            "the region's claimed concurrency 612 of the account limit 1,000 (61 %).")

    start, end = yesterday, yesterday + timedelta(hours=1)
    assert lines["yesterday"][0]["text"] == (f"Yesterday {start:%H:%M}–{end:%H:%M} UTC: 0.2 % errors of 6,000 invocations "
                                             "(0 throttles).")
    assert "range=custom" in lines["yesterday"][0]["url"]
    assert list(lines) == ["began", "deploy", "versions", "error", "dlq", "throttle", "yesterday"]

    # stored on the incident
    incident_diagnose(incident=incident, now=now)
    incident.refresh_from_db()
    assert [line["key"] for line in incident.diagnosis] == ["began", "deploy", "versions", "error", "dlq", "throttle",
                                                           "yesterday"]
    assert incident.diagnosed_at == now


@pytest.mark.django_db
def test_throttling_against_reserved_concurrency(estate):
    floor = estate.now.replace(second=0, microsecond=0)
    began = floor - timedelta(minutes=50)  # throttles of 3/min began 59 min before the newest minute
    lines = _lines(_incident(estate.throttled, began), estate.now)
    assert lines["throttle"][0]["text"] == ("Throttled 150 times since it began: peak concurrency 50 of reserved 50 (100 %); "
                                            "the region's claimed concurrency 612 of the account limit 1,000 (61 %).")


@pytest.mark.django_db
def test_missing_data_says_so_or_is_left_out(db):
    fn = FunctionFactory(name="quiet")
    from django.utils import timezone

    now = timezone.now()
    lines = _lines(_incident(fn, now - timedelta(minutes=10)), now)
    assert list(lines) == ["began", "deploy", "error"]  # no series: no throttle or yesterday line; no DLQ
    assert lines["deploy"][0]["text"] == "No deploy or configuration change in the hour before it began."
    assert lines["error"][0]["text"].startswith("No error lines grouped since it began")

    # a configuration change (CloudTrail) before the onset, and a series without yesterday's rows
    ChangeFactory(function=fn, at=now - timedelta(minutes=22))
    function_series(fn)
    lines = _lines(_incident(fn, now - timedelta(minutes=10)) if False else Incident.objects.get(function=fn), now)
    assert lines["deploy"][0]["text"].startswith(
        "Configuration change 12 min before: reserved concurrency 200 → 1 by role/oncall-admin (console), ")
    assert lines["yesterday"][0]["text"].startswith("No invocations stored for ")
