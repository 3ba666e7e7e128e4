"""Maintained per-school counts of active enrollments (issue 7; xueji/students/counters.py): the two tables, the
triggers that append deltas, and the counts of the enrollments that exist now."""

import django.db.models.deletion
from django.db import migrations, models

from xueji.students.counters import TRIGGERS, install_triggers


def _install(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO students_schoolactivecount (school_id, active) "
        "SELECT school_id, count(*) FROM students_enrollment WHERE is_active GROUP BY school_id"
    )
    install_triggers(schema_editor)


def _remove(apps, schema_editor):
    on = " ON students_enrollment" if schema_editor.connection.vendor == "postgresql" else ""
    for name in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


class Migration(migrations.Migration):

    dependencies = [
        ('schools', '0001_initial'),
        ('students', '0004_search_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='SchoolActiveCount',
            fields=[
                ('school', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='schools.school')),
                ('active', models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='SchoolCountDelta',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('delta', models.IntegerField()),
                ('school', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='schools.school')),
            ],
        ),
        migrations.RunPython(_install, _remove),
    ]
