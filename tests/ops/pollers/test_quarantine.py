"""The quarantine tally: bounded per scope and reason, idempotent under re-reads, storable samples."""

from datetime import timedelta

import pytest

from ops.models import PollStatus, Quarantine
from ops.pollers import quarantine
from ops.pollers.base import PollContext, account_scope
from ops.pollers.quarantine import Item, quarantine_add, sample_of, sanitise
from tests.clock import hours_ago
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _ctx(account, source="logs"):
    status = PollStatus.objects.create(source=source, account=account, region="us-east-1")
    return PollContext(account=account, region="us-east-1", status=status, scope=account_scope(account, "us-east-1"))


def test_an_error_storm_re_read_never_counts_a_line_twice():
    """More bad lines in the lookback than the key memory holds (MAX_KEYS), read run after run."""
    assert quarantine.MAX_KEYS == 500
    ctx = _ctx(AccountFactory())
    start = hours_ago(2)

    def lines(first, last):  # one bad line a second, keyed as the logs poller keys them
        return [
            Item(reason="unreadable", key=f"/aws/lambda/a\n{i}", where="/aws/lambda/a s", detail="d", raw="r",
                 at=start + timedelta(seconds=i))
            for i in range(first, last)
        ]

    assert quarantine_add(ctx, lines(0, 600)) == 600
    assert quarantine_add(ctx, lines(0, 600)) == 0  # the same window again: the oldest 100 keys were dropped
    assert quarantine_add(ctx, lines(300, 900)) == 300  # the next window overlaps the last by its lookback
    assert quarantine_add(ctx, lines(0, 900)) == 0
    row = Quarantine.objects.get()
    assert row.count == 900 and len(row.recent_keys) == 500


def test_sanitise_and_sample():
    assert sanitise("a\x00b\ud800c") == "abc"
    plain = "ordinary text"
    assert sanitise(plain) is plain
    s = sample_of("x" * 10_000 + "\x00")
    assert s.startswith("x" * 500) and s.endswith("(10,001 characters)") and len(s) < 530


def test_counts_are_by_reason_bounded_and_a_key_seen_again_is_not_counted(monkeypatch):
    monkeypatch.setattr(quarantine, "MAX_KEYS", 50)
    account = AccountFactory()
    ctx = _ctx(account)
    items = [Item(reason="out_of_bounds", key=f"k{i}", where="/aws/lambda/a s", detail=f"d{i}", raw="r" * 5000) for i in range(40)]
    assert quarantine_add(ctx, items) == 40
    assert quarantine_add(ctx, items[-10:]) == 0  # a re-read of the same window
    assert quarantine_add(ctx, [Item(reason="too_long", key="k1", where="w", detail="d", raw="r")]) == 1
    rows = {q.reason: q for q in Quarantine.objects.all()}
    oob = rows["out_of_bounds"]
    assert (oob.count, len(oob.samples), len(oob.recent_keys)) == (40, quarantine.MAX_SAMPLES, 40)
    assert [s["detail"] for s in oob.samples] == ["d39", "d38", "d37", "d36", "d35"]  # newest first
    assert all(len(s["raw"]) < 530 for s in oob.samples)
    quarantine_add(ctx, [Item(reason="out_of_bounds", key=f"n{i}", where="w", detail="d", raw="r") for i in range(30)])
    oob.refresh_from_db()
    assert oob.count == 70 and len(oob.recent_keys) == 50  # the key memory stays bounded
    assert rows["too_long"].count == 1
