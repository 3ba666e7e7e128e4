"""Province rules as data. Issue #2 carries the province-defined non-basic fields (第3条); later issues add
approval chains, windows and deadlines here, always as versioned, validated data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
