"""Changes with a start date take effect on it (state ``scheduled``, ``effective_on``; ADR 0005); a work
notification is marked done once its work is finished (``needs_action``, ``done_at``)."""

from django.db import migrations, models
from django.db.models.functions import TruncDate
from django.utils import timezone

FINAL = ("approved", "rejected", "cancelled")


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Existing rows: an approved request took effect on the day it was closed; the notices that asked for
    work (a step to decide, a returned request) are work notices, done when that work is no longer waiting."""
    ChangeRequest = apps.get_model("changes", "ChangeRequest")
    Notification = apps.get_model("changes", "Notification")
    ApprovalStep = apps.get_model("changes", "ApprovalStep")
    ChangeRequest.objects.filter(state="approved", closed_at__isnull=False).update(
        effective_on=TruncDate("closed_at")
    )
    now = timezone.now()
    todo = Notification.objects.filter(message__startswith="待办：")
    returned = Notification.objects.filter(message__endswith="被退回，请补充材料")
    todo.update(needs_action=True)
    returned.update(needs_action=True)
    # A step notice is still to do only while its unit holds the request's pending step.
    waiting = ApprovalStep.objects.filter(state="pending", request__state="pending").values_list(
        "request_id", "org_unit_id"
    )
    still = set(waiting)
    done_ids = [
        pk
        for pk, request_id, org_unit_id in todo.filter(request__isnull=False).values_list(
            "pk", "request_id", "org_unit_id"
        )
        if (request_id, org_unit_id) not in still
    ]
    for start in range(0, len(done_ids), 500):
        Notification.objects.filter(pk__in=done_ids[start : start + 500]).update(done_at=now)
    returned.exclude(request__state="returned").update(done_at=now)


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="changerequest", name="change_one_open_per_person"),
        migrations.AddField(
            model_name="changerequest",
            name="effective_on",
            field=models.DateField(blank=True, null=True, verbose_name="生效日期"),
        ),
        migrations.AddField(
            model_name="notification",
            name="done_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="办结时间"),
        ),
        migrations.AddField(
            model_name="notification",
            name="needs_action",
            field=models.BooleanField(default=False, verbose_name="待办"),
        ),
        migrations.AlterField(
            model_name="changerequest",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "办理中"),
                    ("returned", "已退回补充材料"),
                    ("scheduled", "已批准待生效"),
                    ("approved", "已办结"),
                    ("rejected", "未通过"),
                    ("cancelled", "已撤销"),
                ],
                default="pending",
                max_length=12,
                verbose_name="状态",
            ),
        ),
        migrations.AddIndex(
            model_name="changerequest",
            index=models.Index(fields=["state", "effective_on"], name="change_state_effective"),
        ),
        migrations.AddConstraint(
            model_name="changerequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ["pending", "returned", "scheduled"])),
                fields=("person",),
                name="change_one_open_per_person",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
