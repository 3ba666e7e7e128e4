"""Snapshots of former records (issue #6 §3.5): the table, the read-only proxy, and a back-fill.

The back-fill freezes every former enrollment that continued later (another enrollment of the same person was
registered after it — a transfer, a progression, a return from abroad made before this migration). The record
as it stood at the move is not recoverable, so the snapshot holds the best data there is — the record as it is
now — and is marked ``backfilled``. Former records held nowhere else (graduates not enrolled again, withdrawn,
deceased) are not frozen: their school is still the last holder of the record.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef
from django.utils import timezone

CHUNK = 500


def _dump(instance, skipped):
    out = {}
    for f in instance._meta.concrete_fields:
        if f.name in skipped:
            continue
        value = f.value_from_object(instance)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif f.name == "id":
            value = str(value)
        out[f.attname] = value
    return out


def backfill_snapshots(apps, schema_editor):
    Enrollment = apps.get_model("students", "Enrollment")
    Person = apps.get_model("students", "Person")
    Guardian = apps.get_model("students", "Guardian")
    EnrollmentSnapshot = apps.get_model("students", "EnrollmentSnapshot")
    later = Enrollment.objects.filter(person_id=OuterRef("person_id"), registered_at__gt=OuterRef("registered_at"))
    former = (
        Enrollment.objects.filter(is_active=False)
        .filter(Exists(later))
        .exclude(Exists(EnrollmentSnapshot.objects.filter(enrollment_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "person_id", "province_code")
    )
    now = timezone.now()
    rows = list(former)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        people = {p.pk: p for p in Person.objects.filter(pk__in={r[1] for r in chunk})}
        family = {}
        for g in Guardian.objects.filter(person_id__in=list(people)).order_by("id"):
            family.setdefault(g.person_id, []).append(g)
        EnrollmentSnapshot.objects.bulk_create(
            [
                EnrollmentSnapshot(
                    enrollment_id=pk,
                    province_code=province,
                    person=_dump(people[person_id], {"id", "province_code", "created_at", "updated_at"}),
                    guardians=[_dump(g, {"person", "province_code"}) for g in family.get(person_id, [])],
                    taken_at=now,
                    backfilled=True,
                )
                for pk, person_id, province in chunk
            ]
        )


class Migration(migrations.Migration):

    dependencies = [
        ('students', '0002_enrollment_promoted_year'),
    ]

    operations = [
        migrations.CreateModel(
            name='EnrollmentSnapshot',
            fields=[
                ('enrollment', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='snapshot', serialize=False, to='students.enrollment', verbose_name='学籍')),
                ('province_code', models.CharField(max_length=6)),
                ('person', models.JSONField(verbose_name='基础信息（转出时）')),
                ('guardians', models.JSONField(default=list, verbose_name='家庭成员（转出时）')),
                ('taken_at', models.DateTimeField(verbose_name='冻结时间')),
                ('backfilled', models.BooleanField(default=False, verbose_name='迁移时补记')),
            ],
            options={
                'verbose_name': '转出时学籍快照',
                'verbose_name_plural': '转出时学籍快照',
            },
        ),
        migrations.CreateModel(
            name='FrozenPerson',
            fields=[
            ],
            options={
                'verbose_name': '学生（转出时快照）',
                'verbose_name_plural': '学生（转出时快照）',
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('students.person',),
        ),
        migrations.RunPython(backfill_snapshots, migrations.RunPython.noop),
    ]
