"""The quarantine tally: bounded per scope and reason, idempotent under re-reads, storable samples."""

import pytest

from ops.models import PollStatus, Quarantine
from ops.pollers import quarantine
from ops.pollers.base import PollContext, account_scope
from ops.pollers.quarantine import Item, quarantine_add, sample_of, sanitise
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _ctx(account, source="logs"):
    status = PollStatus.objects.create(source=source, account=account, region="us-east-1")
    return PollContext(account=account, region="us-east-1", status=status, scope=account_scope(account, "us-east-1"))


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
