"""Database-level append-only guarantee for the audit trail (等保 8.1.4.3; security.md test 7)."""

from django.db import migrations

from xueji.audit import triggers


def forwards(apps, schema_editor):
    triggers.create(schema_editor.connection.vendor, schema_editor, [triggers.EVENTS])


def backwards(apps, schema_editor):
    triggers.drop(schema_editor.connection.vendor, schema_editor, [triggers.EVENTS])
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_append_only();")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
