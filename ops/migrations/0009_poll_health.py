"""What a poll status's state (ok, degraded, failing) is judged from: each run's AWS call
outcomes, why it fell short, how far the data reaches, and the state with when it began.

Existing rows get created_at = now (the migration's time): a scope that never succeeded before
the upgrade is judged failing POLL_FAILING_CYCLES cadences after it, not at once.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ops', '0008_quarantine'),
    ]

    operations = [
        migrations.AddField(
            model_name='pollstatus',
            name='cadence_s',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='data_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='last_calls',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='last_error_permanent',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='last_failed_calls',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='last_shortfall',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='state',
            field=models.CharField(blank=True, choices=[('ok', 'ok'), ('degraded', 'degraded'), ('failing', 'failing')], max_length=16),
        ),
        migrations.AddField(
            model_name='pollstatus',
            name='state_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
