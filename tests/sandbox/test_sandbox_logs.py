"""CloudWatch Logs Insights fill-in over REPORT lines; FilterLogEvents with plain terms."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.clock import hours_ago, iso_ms, stream_day

START = hours_ago(2)
T0 = int(START.timestamp())
STREAM = f"{stream_day(START)}/[1]abc"


def insights_ts(seconds: float) -> str:
    """How Logs Insights prints ``@timestamp`` and ``bin()``: ``YYYY-MM-DD HH:MM:SS.mmm``."""
    return iso_ms(START + timedelta(seconds=seconds)).replace("T", " ").rstrip("Z")
GROUP = "/aws/lambda/orders"


def report(rid, dur, billed, mem, used, init=None):
    line = (f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {mem} MB\tMax Memory Used: {used} MB\t")
    if init:
        line += f"Init Duration: {init:.2f} ms\t"
    return line


@pytest.fixture()
def logs(clean, aws):
    client = aws("logs")
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    events = []
    for i in range(6):  # minute 0: 3 invocations, minute 1: 3 invocations
        ts = (T0 + (i // 3) * 60 + i) * 1000
        rid = f"00000000-0000-4000-8000-{i:012d}"
        events.append({"timestamp": ts, "message": f"START RequestId: {rid} Version: 1"})
        if i == 2:
            events.append({"timestamp": ts + 1, "message": "[ERROR] KeyError: 'id'\nTraceback (most recent call last):"})
        if i == 4:
            events.append({"timestamp": ts + 1, "message": f"{iso_ms(START + timedelta(seconds=64.001))} {rid} Task timed out after 3.00 seconds"})
        events.append({"timestamp": ts + 2, "message": f"END RequestId: {rid}"})
        events.append({"timestamp": ts + 2, "message": report(rid, 10.5 * (i + 1), int(10.5 * (i + 1)) + 1 + (200 if i == 0 else 0),
                                                               512, 60 + i, 199.5 if i == 0 else None)})
    events.append({"timestamp": (T0 + 90) * 1000, "message": json.dumps({
        "time": iso_ms(START + timedelta(seconds=90)), "type": "platform.report",
        "record": {"requestId": "json-1", "metrics": {"durationMs": 5.0, "billedDurationMs": 6,
                                                      "memorySizeMB": 512, "maxMemoryUsedMB": 70}}})})
    client.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)
    return client


def run(client, query):
    qid = client.start_query(logGroupName=GROUP, startTime=T0, endTime=T0 + 300, queryString=query)["queryId"]
    for _ in range(50):
        res = client.get_query_results(queryId=qid)
        if res["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in res["results"]], res["statistics"]
        time.sleep(0.05)
    raise AssertionError("query did not complete")


def test_stats_by_bin_over_report_lines(logs):
    rows, stats = run(logs, 'filter @type = "REPORT" | stats count(*) as n, sum(@billedDuration) as billed, '
                            'max(@maxMemoryUsed), count(@initDuration) as cold by bin(1m)')
    by = {r["bin(1m)"]: r for r in rows}
    assert set(by) == {insights_ts(0), insights_ts(60)}
    m0 = by[insights_ts(0)]
    assert m0["n"] == "3" and m0["cold"] == "1"
    assert m0["billed"] == str((11 + 200) + (22) + (32))
    assert by[insights_ts(60)]["n"] == "4"  # three text REPORTs + one JSON platform.report
    assert by[insights_ts(60)]["max(@maxMemoryUsed)"] == "70"
    assert stats["recordsMatched"] == 7.0


def test_filter_like_and_fields(logs):
    rows, _ = run(logs, "fields @timestamp, @message | filter @message like /REPORT/ | sort @timestamp asc | limit 2")
    assert len(rows) == 2 and all(r["@message"].startswith("REPORT") for r in rows)
    assert rows[0]["@timestamp"] == insights_ts(0.002)
    errors, _ = run(logs, "filter @message like /ERROR|Task timed out/ | stats count(*) as n")
    assert errors == [{"n": "2"}]
    avg, _ = run(logs, "filter @message like /REPORT/ | stats avg(@duration) as a, pct(@duration, 50) as p50")
    assert float(avg[0]["a"]) == pytest.approx(10.5 * 21 / 6)


def test_unknown_query_and_filter_log_events(logs):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        logs.get_query_results(queryId="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    hits = logs.filter_log_events(logGroupName=GROUP, filterPattern='"Init Duration"')["events"]
    assert len(hits) == 1
    assert len(logs.filter_log_events(logGroupName=GROUP, filterPattern="REPORT")["events"]) == 6


@pytest.mark.parametrize("pattern,expected", [
    ("REPORT", 6),
    ('"Init Duration"', 1),
    ('?ERROR ?"Task timed out"', 2),
    ("REPORT -Init", 5),
    ("START RequestId", 6),
    ("%Duration: [0-9]{2}\\.[0-9]+ ms%", 6),
    ('{ $.type = "platform.report" }', 1),
    ("{ $.record.metrics.durationMs > 4 && $.record.metrics.maxMemoryUsedMB = 70 }", 1),
    ("{ $.record.metrics.durationMs > 10 }", 0),
    ('{ $.type = "platform.*" }', 1),
    ("[type=END, ...]", 6),
    ("", 21),
])
def test_filter_log_events_patterns(logs, pattern, expected):
    events = logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)["events"]
    assert len(events) == expected


def test_invalid_filter_pattern(logs):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.a = }")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
