from django.contrib.postgres.operations import BtreeGinExtension, CreateExtension, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """Extensions the customer base relies on: intarray (tag expressions), btree_gin (composite
    GIN on organization + tags) and pg_trgm (name search). All ship with PostgreSQL contrib."""

    initial = True
    dependencies: list = []

    operations = [
        CreateExtension("intarray"),
        BtreeGinExtension(),
        TrigramExtension(),
    ]
