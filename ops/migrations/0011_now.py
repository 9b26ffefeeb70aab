"""``Function.metrics_known_until``: how far the metrics poller has stored each function's
minutes, so the read side can tell a minute not known yet (null) from a quiet one (0).

The data step copies it from the metrics cursors (target key = function id), so an upgraded
install does not read every stored minute as unknown until the next poll.
"""

from datetime import datetime, timezone

from django.db import migrations, models


def known_from_cursors(apps, schema_editor):
    PollStatus = apps.get_model("ops", "PollStatus")
    Function = apps.get_model("ops", "Function")
    for status in PollStatus.objects.filter(source="metrics"):
        until = (status.cursor or {}).get("until") if isinstance(status.cursor, dict) else None
        if not isinstance(until, dict):
            continue
        for key, value in until.items():
            if not str(key).isdigit():
                continue
            try:
                ts = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                continue
            ts = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
            Function.objects.filter(pk=int(key)).update(metrics_known_until=ts)


class Migration(migrations.Migration):
    dependencies = [("ops", "0010_quarantine_source")]

    operations = [
        migrations.AddField(
            model_name="function",
            name="metrics_known_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(known_from_cursors, migrations.RunPython.noop),
    ]
