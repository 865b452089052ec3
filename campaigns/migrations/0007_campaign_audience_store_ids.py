"""A campaign's audience is limited to its creator's stores (own + managed), not to one store: rows made
before keep their ``store`` as the limit (``campaigns.planner.audience_stores``)."""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0006_delivery_id_cache")]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="audience_store_ids",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(), blank=True, default=None, null=True, size=None
            ),
        ),
    ]
