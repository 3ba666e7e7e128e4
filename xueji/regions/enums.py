"""Levels of the five-level org tree (第5、23条: 中央、省、市、县、学校五级应用模式)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgLevel(models.TextChoices):
    """The five levels, plus the ordering used to compare them."""

    NATIONAL = "national", _("国家")
    PROVINCE = "province", _("省级")
    CITY = "city", _("地市级")
    COUNTY = "county", _("县级")
    SCHOOL = "school", _("学校")


LEVEL_RANK = {
    OrgLevel.NATIONAL: 0,
    OrgLevel.PROVINCE: 1,
    OrgLevel.CITY: 2,
    OrgLevel.COUNTY: 3,
    OrgLevel.SCHOOL: 4,
}

NATIONAL_CODE = "000000"
