"""Migration 0011 publishes each function's known-until from the metrics cursors."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.ops.migrations.executor import migrate_to, migrate_to_latest, two_functions

BEFORE = [("ops", "0010_quarantine_source")]
AFTER = [("ops", "0011_now")]


@pytest.mark.django_db(transaction=True)
def test_known_until_comes_from_the_metrics_cursor():
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        old = migrate_to(BEFORE)
        account, (polled, never) = two_functions(old, now=now)
        until = {str(polled.pk): (now - timedelta(minutes=3)).isoformat(), "scope": now.isoformat(), "77": "garbage"}
        old.get_model("ops", "PollStatus").objects.create(
            source="metrics", account=account, region="us-east-1", cursor={"until": until, "partial": {}}
        )
        old.get_model("ops", "PollStatus").objects.create(source="logs", account=account, region="us-east-1",
                                                          cursor={"until": {str(never.pk): now.isoformat()}})

        new = migrate_to(AFTER)
        Function = new.get_model("ops", "Function")
        assert Function.objects.get(pk=polled.pk).metrics_known_until == now - timedelta(minutes=3)
        assert Function.objects.get(pk=never.pk).metrics_known_until is None  # a logs cursor is not the metrics one
        migrate_to(BEFORE)  # and back
    finally:
        migrate_to_latest()
