"""The five-level org tree: the ministry, provincial/city/county education departments and schools.

第5条: 省级统筹、分级负责、学校实施 — each level manages its own region and its directly administered
schools. Jurisdiction is a subtree: a unit's ``path`` is the chain of ids from the root, so "everything a
county may see" is ``path LIKE '/1/5/27/%'`` on an indexed column, with no recursive query.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .enums import LEVEL_RANK, OrgLevel


class OrgUnit(models.Model):
    level = models.CharField(_("层级"), max_length=16, choices=OrgLevel.choices)
    name = models.CharField(_("名称"), max_length=120)
    # Division code (GB/T 2260) for departments, 学校标识码 for schools, "000000" for the ministry.
    code = models.CharField(_("代码"), max_length=16)
    division_code = models.CharField(_("行政区划代码"), max_length=6)
    province_code = models.CharField(_("省级区划代码"), max_length=6, db_index=True)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)
    is_active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        constraints = [
            models.UniqueConstraint(fields=["level", "code"], name="orgunit_level_code_unique"),
        ]
        indexes = [models.Index(fields=["parent", "level"])]

    def __str__(self) -> str:
        return self.name

    @property
    def rank(self) -> int:
        return LEVEL_RANK[OrgLevel(self.level)]

    def is_department(self) -> bool:
        return self.level != OrgLevel.SCHOOL

    def contains(self, other: OrgUnit) -> bool:
        """True when ``other`` lies in this unit's subtree (itself included)."""
        return other.path.startswith(self.path)

    def ancestors(self) -> models.QuerySet[OrgUnit]:
        ids = [int(part) for part in self.path.strip("/").split("/") if part]
        return OrgUnit.objects.filter(id__in=ids).order_by("path")
