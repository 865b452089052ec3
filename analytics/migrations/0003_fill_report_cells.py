"""Fill the report cells of 0002 for existing data (its own migration: 0002's constraints exist only
once that migration has finished, and the cells are written with upserts on them)."""

from django.db import migrations


def fill_cells(apps, schema_editor):
    """Existing data: file every buyer under its current store and channel, then compute the cells
    (what ``analytics_rebuild`` does for them). A new database has no organization: nothing to do."""
    Organization = apps.get_model("contacts", "Organization")
    org_ids = list(Organization.objects.values_list("pk", flat=True))
    if not org_ids:
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_buyerfact b SET home_store_id = c.home_store_id, channel = c.source_channel"
            " FROM contacts_customer c WHERE c.id = b.customer_id"
        )
    from analytics.rollups import report_cells_rebuild

    for org_id in org_ids:
        report_cells_rebuild(organization_id=org_id)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_report_cells")]

    operations = [migrations.RunPython(fill_cells, migrations.RunPython.noop)]
