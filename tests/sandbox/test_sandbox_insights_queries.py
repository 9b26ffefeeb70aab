"""Logs Insights in the sandbox answers the product's queries as AWS does: parse, a missing log
group, and the REPORT stats / line queries partitioning the REPORT lines."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from ops.aws.logs import LINES_QUERY, REPORT_STATS_QUERY
from tests.clock import hours_ago, stream_day

START = hours_ago(2)
T0 = int(START.timestamp())
GROUP = "/aws/lambda/orders"
R = "00000000-0000-4000-8000-00000000000"


def _report(i, extra=""):
    return f"REPORT RequestId: {R}{i}\tDuration: 10.00 ms\tBilled Duration: 11 ms\tMemory Size: 512 MB\tMax Memory Used: 6{i} MB\t{extra}"


LINES = [
    _report(1, "Init Duration: 100.00 ms\t"),
    _report(2),
    _report(3, "Restore Duration: 250.50 ms\tBilled Restore Duration: 120 ms\t"),
    _report(4, "Status: timeout"),
    f"REPORT RequestId: {R}5\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 99999999999 MB\tMax Memory Used: 60 MB\t",
    f"REPORT RequestId: {R}6\tDuration: 1e308 ms\tBilled Duration: 1e308 ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB\t",
    json.dumps({"type": "platform.report", "record": {"requestId": "j", "metrics": {"durationMs": 5.0, "billedDurationMs": 6, "memorySizeMB": 512, "maxMemoryUsedMB": 70}}}),
    "[ERROR] KeyError: 'id'",
    f"START RequestId: {R}1 Version: 1",
    "panic: runtime error: index out of range [3] with length 3",
]


@pytest.fixture()
def logs(clean, aws):
    client = aws("logs")
    client.create_log_group(logGroupName=GROUP)
    stream = f"{stream_day(START)}/[1]abc"
    client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    client.put_log_events(logGroupName=GROUP, logStreamName=stream,
                          logEvents=[{"timestamp": (T0 + i) * 1000, "message": m} for i, m in enumerate(LINES)])
    return client


def run(client, query, groups=(GROUP,)):
    qid = client.start_query(logGroupNames=list(groups), startTime=T0, endTime=T0 + 120, queryString=query)["queryId"]
    for _ in range(50):
        res = client.get_query_results(queryId=qid)
        if res["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in res["results"]]
        time.sleep(0.05)
    raise AssertionError("query did not complete")


def test_parse_with_a_regex_and_with_a_glob(logs):
    rows = run(logs, r"parse @message /\tRestore Duration: (?<restore>[0-9.]+) ms/ | filter ispresent(restore) | fields restore")
    assert [r["restore"] for r in rows] == ["250.50"]
    rows = run(logs, 'parse @message "Max Memory Used: * MB" as used | filter ispresent(used) | stats max(used) as top')
    assert rows == [{"top": "64"}]


def test_a_query_naming_a_group_that_does_not_exist_fails_as_in_aws(logs):
    with pytest.raises(ClientError) as err:
        run(logs, "fields @message", groups=(GROUP, "/aws/lambda/not-yet"))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_stats_and_line_queries_partition_the_report_lines(logs):
    stats = run(logs, REPORT_STATS_QUERY)
    assert len(stats) == 1
    s = stats[0]
    assert s["minute"] == (START + timedelta(seconds=0)).strftime("%Y-%m-%d %H:%M:%S.000")
    assert (s["@log"], s["@memorySize"]) == (GROUP, "512")
    assert (s["reports"], s["inits"], s["initSum"], s["restores"], s["restoreSum"], s["billedRestoreSum"]) == ("3", "1", "100", "1", "250.5", "120")
    assert (s["billedSum"], s["usedMax"]) == ("33", "63")
    lines = [r["@message"] for r in run(logs, LINES_QUERY)]
    assert lines == [LINES[i] for i in (3, 4, 5, 6, 7, 9)]  # every REPORT the stats left out, and the errors
