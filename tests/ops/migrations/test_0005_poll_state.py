"""Migration 0005 moves the facts others read out of the metrics cursor, and back on reversal."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.ops.migrations.executor import migrate_to, migrate_to_latest, two_functions

BEFORE = [("ops", "0004_jobs")]
AFTER = [("ops", "0005_poll_state")]


@pytest.mark.django_db(transaction=True)
def test_cursor_contents_are_carried_over_and_back():
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        old = migrate_to(BEFORE)
        account, (busy, quiet) = two_functions(old, now=now)
        until = {str(busy.pk): now.isoformat(), "scope": now.isoformat()}
        PollStatus = old.get_model("ops", "PollStatus")
        PollStatus.objects.create(
            source="metrics",
            account=account,
            region="us-east-1",
            last_success_at=now,
            cursor={
                "until": until,
                "partial": {},
                "active": {str(busy.pk): (now - timedelta(minutes=7)).isoformat(), "999999": "garbage"},
                "cadence": {"busy_s": 120, "idle_s": 900, "usd_per_day": 1.25},
            },
        )
        logs_cursor = {"groups": {"/aws/lambda/orders": now.isoformat()}, "active": {}}
        PollStatus.objects.create(source="logs", account=account, region="us-east-1", cursor=logs_cursor)

        new = migrate_to(AFTER)
        Function = new.get_model("ops", "Function")
        assert Function.objects.get(pk=busy.pk).last_invoked_at == now - timedelta(minutes=7)
        assert Function.objects.get(pk=quiet.pk).last_invoked_at is None
        cadence = new.get_model("ops", "MetricsCadence").objects.get(account_id=account.pk, region="us-east-1")
        assert (cadence.busy_s, cadence.idle_s, cadence.usd_per_day, cadence.planned_at) == (120, 900, 1.25, now)
        PollStatus = new.get_model("ops", "PollStatus")
        assert PollStatus.objects.get(source="metrics").cursor == {"until": until, "partial": {}}
        assert PollStatus.objects.get(source="logs").cursor == logs_cursor  # not the metrics poller's: untouched

        back = migrate_to(BEFORE)
        cursor = back.get_model("ops", "PollStatus").objects.get(source="metrics").cursor
        assert cursor["active"] == {str(busy.pk): (now - timedelta(minutes=7)).isoformat()}
        assert cursor["cadence"] == {"busy_s": 120, "idle_s": 900, "usd_per_day": 1.25}
        assert cursor["until"] == until
    finally:
        migrate_to_latest()
