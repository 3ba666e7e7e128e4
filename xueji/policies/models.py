"""Province rules as data. Issue #2 carries the province-defined non-basic fields (第3条); later issues add
approval chains, windows and deadlines here, always as versioned, validated data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.core.ids import uuid7


class ExtraFieldSet(models.Model):
    """第3条: 非基础学籍信息由各省级教育行政部门统一确定并报国务院教育行政部门备案.

    ``fields`` is a list of ``{key, label, type, required, choices?, max_length?}``, validated by
    :mod:`xueji.policies.extra_fields`. Versions are immutable once active; a new version replaces it.
    """

    province_code = models.CharField(_("省份"), max_length=6)
    version = models.PositiveIntegerField(_("版本"))
    fields = models.JSONField(_("字段定义"))
    is_active = models.BooleanField(_("生效"), default=False)
    filed_on = models.DateField(_("报部备案日期"), null=True, blank=True)
    filing_reference = models.CharField(_("备案文号"), max_length=60, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("非基础学籍信息字段集")
        verbose_name_plural = _("非基础学籍信息字段集")
        constraints = [
            models.UniqueConstraint(fields=["province_code", "version"], name="extrafieldset_version_unique"),
            models.UniqueConstraint(
                fields=["province_code"], condition=Q(is_active=True), name="extrafieldset_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.province_code} v{self.version}"


class ProvinceRuleSet(models.Model):
    """A province's implementing rules (实施细则) for status changes, as validated data (第12、16、18、20、29条).

    ``rules`` overrides the national defaults key by key (see :mod:`xueji.changes.policy`): approval chains,
    time windows, grades that may not transfer, required evidence, suspension maximum, resumption grade.
    Versioned and effective-dated; filed with the ministry before it takes effect.
    """

    province_code = models.CharField(_("省份"), max_length=6)
    version = models.PositiveIntegerField(_("版本"))
    effective_from = models.DateField(_("生效日期"))
    rules = models.JSONField(_("规则"))
    filed_on = models.DateField(_("报部备案日期"), null=True, blank=True)
    filing_reference = models.CharField(_("文号"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("省级学籍变动规则")
        verbose_name_plural = _("省级学籍变动规则")
        constraints = [
            models.UniqueConstraint(
                fields=["province_code", "version"], name="provinceruleset_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.province_code} v{self.version}"


class RuleConfirmation(models.Model):
    """A registrar's confirmation that a record breaking a soft province rule is right, with the reason
    (issue 8 item 4: a pupil older or younger than the ``grade_age`` rule's normal band for the grade — 缓学,
    留级, 跳级, 插班 …; 第9条 the school answers for the truth of what it registers, 第11条 入学年龄).

    Written with the registration, in its transaction (:func:`xueji.policies.services.rule_confirmations_rows`
    via ``register_students``). The audit event of the registration says that a confirmation happened and
    for which rule; the reason, which may describe the child's circumstances, is kept here only. ``person_id``
    and ``enrollment_id`` name the student's records (students sit above this app, hence no foreign key).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    rule = models.CharField(_("规则"), max_length=24)
    rule_version = models.CharField(_("规则版本"), max_length=40)
    person_id = models.UUIDField(db_index=True)
    enrollment_id = models.UUIDField()
    province_code = models.CharField(max_length=6)
    # The school's path, so reads can be scoped like the student's records.
    scope_path = models.CharField(max_length=255)
    detail = models.CharField(_("情况"), max_length=200)
    reason = models.CharField(_("确认原因"), max_length=200)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("规则例外确认")
        verbose_name_plural = _("规则例外确认")

    def __str__(self) -> str:
        return f"{self.rule} · {self.person_id}"
