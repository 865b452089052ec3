"""Finished import jobs no longer keep their uploaded file (contacts.services.imports.import_job_release);
drop the files that jobs finished before this change still hold. Re-runnable; nothing to undo."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_privacy")]

    operations = [
        migrations.RunSQL(
            "UPDATE contacts_importjob SET content = ''::bytea "
            "WHERE status IN ('done', 'failed') AND octet_length(content) > 0",
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
