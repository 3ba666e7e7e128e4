"""Bulk registration batches (第6条)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.core.ids import uuid7
from xueji.schools.models import School


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        CHECKING = "checking", _("校验中")
        CHECKED = "checked", _("校验完成")
        INVALID = "invalid", _("校验未通过")
        COMMITTING = "committing", _("导入中")
        COMMITTED = "committed", _("已导入")
        FAILED = "failed", _("导入失败")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    school = models.ForeignKey(School, models.PROTECT, related_name="import_batches")
    province_code = models.CharField(max_length=6)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(_("文件名"), max_length=200)
    file_path = models.CharField(max_length=300)
    file_sha256 = models.CharField(max_length=64)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # First N problems: [{row, column, code, message}], enough to fix a file; the count is exact.
    errors = models.JSONField(default=list, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Background runs (tasks.py): which step runs or ran last, on which queue task, in which process. A run
    # whose process is gone (kill -9, power loss) is found by ``tasks.reap_stale`` and marked FAILED and
    # ``retryable``; ``attempt`` makes a superseded queue task a no-op.
    phase = models.CharField(max_length=8, blank=True)  # "check" | "commit"
    attempt = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    worker_host = models.CharField(max_length=100, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    retryable = models.BooleanField(default=False)
    # Files of batches never committed are deleted after IMPORT_FILE_RETENTION_DAYS (personal data).
    file_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")
        constraints = [
            # The same file twice creates nothing twice.
            models.UniqueConstraint(
                fields=["school", "file_sha256"], condition=Q(status="committed"), name="import_file_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} · {self.get_status_display()}"


class RosterExport(models.Model):
    """A roster export too large to build inside a web request (issue 8 item 9), built by a queue task.

    Holds what was asked (the unit, the filters, the columns) and where the finished file lies; never the data.
    The file is private to the account that asked (anyone else: 404) and is deleted after
    ``XUEJI_ROSTER_EXPORT_RETENTION_HOURS`` (``tasks.purge_files``)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    province_code = models.CharField(max_length=6)
    org_unit = models.ForeignKey("regions.OrgUnit", models.PROTECT, related_name="+")
    # {"school_code": "", "grade": None, "class_name": ""}: the filters inside the unit (no personal data).
    filters = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    row_count = models.PositiveIntegerField(default=0)  # rows written so far (progress), then in the file
    expected_rows = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=300, blank=True)
    message = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_purged_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker_host = models.CharField(max_length=100, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("名册导出")
        verbose_name_plural = _("名册导出")
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="roster_export_by_user")]

    def __str__(self) -> str:
        return f"{self.org_unit_id} · {self.get_status_display()}"
