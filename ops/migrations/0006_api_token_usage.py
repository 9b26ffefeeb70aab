from django.db import migrations, models


class Migration(migrations.Migration):
    """API tokens may expire; existing tokens keep no expiry."""

    dependencies = [
        ("ops", "0005_poll_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterModelOptions(
            name="apitoken",
            options={"ordering": ["-created_at"], "verbose_name": "API token"},
        ),
    ]
