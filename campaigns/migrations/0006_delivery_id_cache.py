"""Deliveries take their ids 1,000 at a time per connection: the planner draws one per audience member
in one statement, and a sequence lock and WAL record per 32 ids were a visible part of a plan. Ids stay
unique; only their order across connections is no longer the order of insertion (nothing relies on it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_planner_indexes")]

    operations = [
        migrations.RunSQL(
            "ALTER SEQUENCE campaigns_delivery_id_seq CACHE 1000",
            reverse_sql="ALTER SEQUENCE campaigns_delivery_id_seq CACHE 1",
        ),
    ]
