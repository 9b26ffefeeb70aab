"""Error lines of every runtime: recognised, typed and grouped (parser, and the poller end to end)."""

from datetime import timedelta

import pytest

from ops.models import ErrorGroup, LogLine, MinuteStat
from ops.pollers.logs import poll as logs
from ops.pollers.logs.errors import ErrorLine
from ops.pollers.logs.parse import parse_line
from tests.factories import AccountFactory, FunctionFactory
from tests.ops.pollers.logs.corpus import CORPUS
from tests.ops.pollers.logs.test_poll import _put
from tests.ops.pollers.telemetry_helpers import ACCOUNT_ID, REGION, at_clock, now_minute, run


@pytest.mark.parametrize("runtime, line, etype, message", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_runtime_error_line_is_typed_and_normalised(runtime, line, etype, message):
    err = parse_line(line)
    assert isinstance(err, ErrorLine), runtime
    assert (err.error_type, err.message) == (etype, message)


def test_the_same_error_with_other_ids_is_one_group():
    a = parse_line("panic: order 17 not found\n\ngoroutine 1 [running]:")
    b = parse_line("panic: order 90210 not found\n\ngoroutine 7 [running]:")
    assert a.signature == b.signature and a.error_type == "panic"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("source", ["filter", "insights"])
def test_one_line_per_runtime_is_grouped_by_type_and_message_with_its_sample(aws, monkeypatch, settings, source):
    """Every line is found by the server-side filter (FilterLogEvents pattern, Insights query) and grouped."""
    settings.LOGS_SOURCE = source
    account = AccountFactory(account_id=ACCOUNT_ID, regions=[REGION])
    FunctionFactory(account=account, name="polyglot")
    end = now_minute()
    m1 = end - timedelta(minutes=3)
    _put("polyglot", [(m1 + timedelta(seconds=i), line) for i, (_rt, line, _t, _m) in enumerate(CORPUS)])
    at_clock(monkeypatch, logs, end)
    outcome = run("logs", account, logs.logs_poll)
    assert outcome.ok, outcome
    assert not [w for w in outcome.warnings if "unavailable" in w]
    groups = {(g.error_type, g.message): g for g in ErrorGroup.objects.all()}
    assert set(groups) == {(t, m) for _rt, _l, t, m in CORPUS}
    for _rt, line, t, m in CORPUS:
        g = groups[(t, m)]
        assert g.count == 1 and g.samples[0]["line"] == line[:1000]
    total = sum(r.log_errors for r in MinuteStat.objects.all())
    assert total == len(CORPUS) == LogLine.objects.count()
