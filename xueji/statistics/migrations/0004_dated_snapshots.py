"""Dated snapshots (issue 10 §1, counts as of a date): the rollup carries its date, a table lists the dates
kept, and the indexes lead with the date. Existing rollup rows belong to the one snapshot there is."""

import datetime

from django.db import migrations, models


def date_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    StatCell = apps.get_model("statistics", "StatCell")
    StatRollup = apps.get_model("statistics", "StatRollup")
    Snapshot = apps.get_model("statistics", "Snapshot")
    from django.db.models import Count, Max
    from django.utils import timezone

    latest = StatCell.objects.aggregate(d=Max("as_of"))["d"]
    if latest is None:
        StatRollup.objects.all().delete()
        return
    StatRollup.objects.update(as_of=latest)
    for row in StatCell.objects.values("as_of").annotate(n=Count("id")).order_by():
        Snapshot.objects.create(as_of=row["as_of"], rebuilt_at=timezone.now(), cells=row["n"])


def keep_latest(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Back to one snapshot: the code before this migration reads the tables without a date, so every date but
    the latest is deleted (otherwise each figure would be the sum of the kept dates)."""
    StatCell = apps.get_model("statistics", "StatCell")
    from django.db.models import Max

    latest = StatCell.objects.aggregate(d=Max("as_of"))["d"]
    for name in ("StatCell", "ClassCell", "StatRollup"):
        apps.get_model("statistics", name).objects.exclude(as_of=latest).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("statistics", "0003_statcell_as_of"),
    ]

    operations = [
        migrations.CreateModel(
            name="Snapshot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("as_of", models.DateField(unique=True, verbose_name="统计日期")),
                ("rebuilt_at", models.DateTimeField(verbose_name="最近重建时间")),
                ("cells", models.PositiveIntegerField(default=0, verbose_name="快照行数")),
            ],
            options={
                "verbose_name": "统计快照日期",
                "verbose_name_plural": "统计快照日期",
                "ordering": ["-as_of"],
            },
        ),
        migrations.AddField(
            model_name="statrollup",
            name="as_of",
            field=models.DateField(default=datetime.date(1970, 1, 1), verbose_name="统计日期"),
            preserve_default=False,
        ),
        migrations.RunPython(date_existing, keep_latest),
        migrations.RemoveIndex(model_name="statcell", name="statcell_as_of"),
        migrations.RemoveIndex(model_name="statcell", name="statcell_scope_pattern"),
        migrations.AddIndex(
            model_name="statcell",
            index=models.Index(
                fields=["as_of", "scope_path"],
                opclasses=["date_ops", "varchar_pattern_ops"],
                name="statcell_asof_scope",
            ),
        ),
        migrations.RemoveIndex(model_name="classcell", name="classcell_school_grade"),
        migrations.AddIndex(
            model_name="classcell",
            index=models.Index(
                fields=["as_of", "grade", "scope_path"],
                opclasses=["date_ops", "int2_ops", "varchar_pattern_ops"],
                name="classcell_asof_grade_scope",
            ),
        ),
        migrations.RemoveIndex(model_name="statrollup", name="statrollup_unit_dim"),
        migrations.AddIndex(
            model_name="statrollup",
            index=models.Index(fields=["as_of", "unit_id", "dim"], name="statrollup_asof_unit_dim"),
        ),
        migrations.AlterField(
            model_name="flowcell",
            name="kind",
            field=models.CharField(
                choices=[
                    ("transfer_in", "转入"),
                    ("transfer_out", "转出"),
                    ("suspension", "休学"),
                    ("resumption", "复学"),
                    ("withdrawal", "退学"),
                    ("dropout", "辍学"),
                    ("death", "死亡注销"),
                    ("completion", "结业"),
                    ("incomplete", "肄业"),
                    ("graduation", "毕业"),
                ],
                max_length=16,
                verbose_name="类别",
            ),
        ),
    ]
