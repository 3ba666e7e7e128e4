"""School code tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SchoolType(models.TextChoices):
    """Kinds of school in scope of the regulation (第2条), incl. special-education and 专门学校."""

    PRIMARY = "primary", _("小学")
    TEACHING_POINT = "teaching_point", _("教学点")
    JUNIOR = "junior", _("初级中学")
    NINE_YEAR = "nine_year", _("九年一贯制学校")
    COMPLETE_SECONDARY = "complete_secondary", _("完全中学")
    SENIOR = "senior", _("高级中学")
    TWELVE_YEAR = "twelve_year", _("十二年一贯制学校")
    SPECIAL = "special", _("特殊教育学校")
    REFORM = "reform", _("专门学校")


class Operator(models.TextChoices):
    PUBLIC = "public", _("公办")
    PRIVATE = "private", _("民办")


class SchoolState(models.TextChoices):
    """A merged or closed school keeps its code forever (学校标识码 never changes)."""

    ACTIVE = "active", _("正常")
    MERGED = "merged", _("已合并")
    # "已撤销" also names a withdrawn change request; a closed school reads differently in English.
    CLOSED = "closed", pgettext_lazy("school state", "已撤销")


class Listing(models.TextChoices):
    """第27条: overseas Chinese schools and HK/Macau mainland-curriculum schools are listed separately."""

    MAINLAND = "mainland", _("境内学校")
    OVERSEAS = "overseas", _("海外中国学校（单列）")
    HK_MACAO = "hk_macao", _("港澳内地课程学校（单列）")


# 学校(机构)标识码 type prefixes (domain.md §5.5) allowed for each of our school types.
CODE_TYPE_PREFIXES: dict[str, frozenset[str]] = {
    SchoolType.PRIMARY: frozenset({"21"}),
    SchoolType.TEACHING_POINT: frozenset({"21"}),
    SchoolType.JUNIOR: frozenset({"31"}),
    SchoolType.NINE_YEAR: frozenset({"21", "31"}),
    SchoolType.COMPLETE_SECONDARY: frozenset({"31", "34"}),
    SchoolType.SENIOR: frozenset({"34"}),
    SchoolType.TWELVE_YEAR: frozenset({"21", "31", "34"}),
    SchoolType.SPECIAL: frozenset({"51"}),
    SchoolType.REFORM: frozenset({"37"}),
}


class Stage(models.TextChoices):
    """学段 — our own codes (the national system keys stages by school type, see domain.md §5.5)."""

    PRIMARY = "primary", _("小学")
    JUNIOR = "junior", _("初中")
    SENIOR = "senior", _("普通高中")


# Stages each type teaches by default (a school may narrow them).
DEFAULT_STAGES: dict[str, tuple[str, ...]] = {
    SchoolType.PRIMARY: ("primary",),
    SchoolType.TEACHING_POINT: ("primary",),
    SchoolType.JUNIOR: ("junior",),
    SchoolType.NINE_YEAR: ("primary", "junior"),
    SchoolType.COMPLETE_SECONDARY: ("junior", "senior"),
    SchoolType.SENIOR: ("senior",),
    SchoolType.TWELVE_YEAR: ("primary", "junior", "senior"),
    SchoolType.SPECIAL: ("primary", "junior", "senior"),
    SchoolType.REFORM: ("junior", "senior"),
}
