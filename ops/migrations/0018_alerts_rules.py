"""Alert rules: the volume floor of ratio signals, and the default rule pack installed (with the
historical model; ops.alerts.pack.rule_pack_install is idempotent, so running it again later —
or this migration on a database that already has edited pack rules — changes nothing)."""

from django.db import migrations, models


def install_pack(apps, schema_editor):
    from ops.alerts.pack import rule_pack_install

    rule_pack_install(rule_model=apps.get_model("ops", "AlertRule"))


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0017_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="min_volume",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(install_pack, migrations.RunPython.noop),
    ]
