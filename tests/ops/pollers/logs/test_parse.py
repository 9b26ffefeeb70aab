import pytest

from ops.pollers.logs import parse as logparse
from ops.pollers.logs.errors import normalise
from ops.pollers.logs.parse import BadLine, ErrorLine, Report
from tests.clock import hours_ago, iso_ms, iso_s

RID = "6f1c2a3b-1111-4a2b-9c3d-0123456789ab"
T = hours_ago(2)  # the stamps Lambda writes into its lines; parsing must not depend on which day
TS, TS_S = iso_ms(T), iso_s(T)


def test_plain_report_with_init_and_extra_fields():
    line = (
        f"REPORT RequestId: {RID}\tDuration: 12.34 ms\tBilled Duration: 253 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 80 MB\tInit Duration: 240.12 ms\t\nXRAY TraceId: 1-5e1b4151-5ac6c58f\tSegmentId: 0a\tSampled: true\t"
    )
    r = logparse.parse_line(line)
    assert r == Report(RID, 12.34, 253.0, 512, 80, 240.12)
    assert r.billed_gb_s() == pytest.approx(0.253 * 0.5)


def test_report_missing_fields_is_read_with_what_it_has():
    r = logparse.parse_line(f"REPORT RequestId: {RID}\tDuration: 99.2 ms\t")
    assert (r.billed_ms, r.memory_mb, r.max_memory_mb, r.init_ms) == (None, None, None, None)
    assert r.billed_gb_s(memory_mb=1024) == pytest.approx(0.1)  # ceil(99.2) ms × 1 GB
    with pytest.raises(BadLine):
        logparse.parse_line(f"REPORT RequestId: {RID}\tBilled Duration: 13 ms\t")


def test_json_report_and_json_timeout():
    line = (
        '{"time":"%s","type":"platform.report","record":{"requestId":"%s","status":"timeout",'
        '"metrics":{"durationMs":3000.5,"billedDurationMs":3001,"memorySizeMB":128,"maxMemoryUsedMB":60,"initDurationMs":150.2}}}'
    ) % (TS, RID)
    report = logparse.parse_line(line)
    assert report == Report(RID, 3000.5, 3001.0, 128, 60, 150.2, status="timeout")
    err = report.status_error()
    assert (err.error_type, err.request_id, err.kind) == ("Task timed out", RID, "status")


def test_a_json_line_that_is_not_json():
    with pytest.raises(BadLine):
        logparse.parse_line('{"time":"%s","type":"platform.report","record":{"requestId":' % TS_S)
    assert logparse.parse_line("{curly but plain text}") is None


def test_error_messages_with_different_ids_share_a_signature():
    a = logparse.parse_line(f"[ERROR]\t{iso_ms(T.replace(microsecond=123000))}\t{RID}\tOrderNotFoundError: order 1234 not found (trace 0xdeadbeef)")
    b = logparse.parse_line(
        f"[ERROR]\t{iso_ms(T.replace(minute=5, microsecond=999000))}\t11111111-2222-3333-4444-555555555555\tOrderNotFoundError: order 98 not found (trace 0xabc)"
    )
    assert a.error_type == "OrderNotFoundError" and a.message == "order <n> not found (trace <hex>)"
    assert a.request_id == RID and a.signature == b.signature


def test_normalise_strips_uuids_timestamps_hex_long_ids_and_numbers():
    text = f"user {RID} at {TS_S} hash a3f9c2e1d4 key AKIAXYZ123456789 took 12.5 ms\nstack line"
    assert normalise(text) == "user <uuid> at <ts> hash <hex> key <id> took <n> ms"


@pytest.mark.parametrize(
    "line, etype, message",
    [
        ("[ERROR] KeyError: 'sku-42'\nTraceback (most recent call last):\n  File x", "KeyError", "'sku-<n>'"),
        (
            f"{TS}\t{RID}\tERROR\tInvoke Error \t"
            '{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading \'id\')","stack":[]}',
            "TypeError",
            "Cannot read properties of undefined (reading 'id')",
        ),
        (f"{TS}\t{RID}\tERROR\tpayment gateway said 502", "ERROR", "payment gateway said <n>"),
        (f"{iso_ms(T.replace(second=3))} {RID} Task timed out after 3.00 seconds", "Task timed out", "Task timed out after <n> seconds"),
        (
            f"RequestId: {RID} Error: Runtime exited with error: exit status 1\nRuntime.ExitError",
            "Runtime.ExitError",
            "Runtime exited with error: exit status <n>",
        ),
        (
            "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'requests'",
        ),
        ('{"timestamp":"%s","level":"ERROR","message":"db down","requestId":"r1"}' % TS_S, "ERROR", "db down"),
        (
            '{"level":"ERROR","message":{"errorMessage":"boom 7","errorType":"ValueError","requestId":"r2","stackTrace":[]}}',
            "ValueError",
            "boom <n>",
        ),
    ],
)
def test_error_lines(line, etype, message):
    err = logparse.parse_line(line)
    assert isinstance(err, ErrorLine)
    assert (err.error_type, err.message) == (etype, message)


@pytest.mark.parametrize(
    "line",
    [f"START RequestId: {RID} Version: $LATEST", f"END RequestId: {RID}", "INIT_START Runtime Version: python:3.12", "hello", ""],
)
def test_other_lines_are_ignored(line):
    assert logparse.parse_line(line) is None
