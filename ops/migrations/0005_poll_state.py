"""Facts the metrics poller's cursor used to carry for others get their own columns.

- ``Function.last_invoked_at``: the cursor's ``active`` map (function id → last minute with
  invocations), read by the logs poller to tell busy functions from idle ones;
- ``MetricsCadence``: the cursor's ``cadence`` (busy and idle intervals, projected spend), read
  by the status page.
The data step copies both out of every metrics cursor and removes them from it, so an upgraded
install keeps its positions and its busy/idle split instead of re-polling everything. Reversing
puts them back.
"""

from datetime import datetime, timezone

import django.db.models.deletion
from django.db import migrations, models


def _ts(value):
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def cursor_facts_out(apps, schema_editor):
    PollStatus = apps.get_model("ops", "PollStatus")
    Function = apps.get_model("ops", "Function")
    MetricsCadence = apps.get_model("ops", "MetricsCadence")
    for status in PollStatus.objects.filter(source="metrics"):
        cursor = status.cursor if isinstance(status.cursor, dict) else {}
        active = cursor.pop("active", None)
        cadence = cursor.pop("cadence", None)
        if isinstance(active, dict):
            for key, value in active.items():
                ts = _ts(value)
                if str(key).isdigit() and ts is not None:
                    fn = Function.objects.filter(pk=int(key), account_id=status.account_id, region=status.region)
                    fn.filter(models.Q(last_invoked_at=None) | models.Q(last_invoked_at__lt=ts)).update(last_invoked_at=ts)
        if isinstance(cadence, dict):
            try:
                values = {
                    "busy_s": int(cadence["busy_s"]),
                    "idle_s": int(cadence["idle_s"]),
                    "usd_per_day": float(cadence["usd_per_day"]),
                }
            except (KeyError, TypeError, ValueError):
                values = None
            if values:
                planned = status.last_success_at or status.last_started_at or datetime.now(timezone.utc)
                MetricsCadence.objects.update_or_create(
                    account_id=status.account_id, region=status.region, defaults={**values, "planned_at": planned}
                )
        status.cursor = cursor
        status.save(update_fields=["cursor"])


def cursor_facts_in(apps, schema_editor):
    PollStatus = apps.get_model("ops", "PollStatus")
    Function = apps.get_model("ops", "Function")
    MetricsCadence = apps.get_model("ops", "MetricsCadence")
    for status in PollStatus.objects.filter(source="metrics"):
        cursor = dict(status.cursor) if isinstance(status.cursor, dict) else {}
        cursor["active"] = {
            str(pk): ts.isoformat()
            for pk, ts in Function.objects.filter(
                account_id=status.account_id, region=status.region, last_invoked_at__isnull=False
            ).values_list("pk", "last_invoked_at")
        }
        cad = MetricsCadence.objects.filter(account_id=status.account_id, region=status.region).first()
        if cad is not None:
            cursor["cadence"] = {"busy_s": cad.busy_s, "idle_s": cad.idle_s, "usd_per_day": cad.usd_per_day}
        status.cursor = cursor
        status.save(update_fields=["cursor"])


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0004_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="function",
            name="last_invoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="MetricsCadence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("region", models.CharField(max_length=32)),
                ("busy_s", models.PositiveIntegerField()),
                ("idle_s", models.PositiveIntegerField()),
                ("usd_per_day", models.FloatField()),
                ("planned_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metrics_cadences",
                        to="ops.account",
                    ),
                ),
            ],
            options={
                "ordering": ["account__name", "region"],
                "constraints": [models.UniqueConstraint(fields=("account", "region"), name="metricscadence_natural_key")],
            },
        ),
        migrations.RunPython(cursor_facts_out, cursor_facts_in),
    ]
