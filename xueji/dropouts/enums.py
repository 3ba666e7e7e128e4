"""Code lists of the dropout ledger 控辍保学台账 (第17条)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

#: 第17条 applies to compulsory education: only primary and junior pupils have dropout cases.
COMPULSORY_STAGES = frozenset({"primary", "junior"})

#: The first follow-up is due this many working days after a case opens (控辍保学 dynamic tracking).
FIRST_FOLLOW_UP_WORKING_DAYS = 5


class Source(models.TextChoices):
    SCHOOL = "school", _("学校报告")
    LEAD = "lead", _("相关部门反馈线索")


class Reason(models.TextChoices):
    STUDY_AVERSION = "aversion", _("厌学")
    FAMILY_HARDSHIP = "hardship", _("家庭经济困难")
    ILLNESS = "illness", _("身体或心理疾病")
    WORK = "work", _("外出务工")
    FAMILY = "family", _("家庭原因")
    MARRIAGE = "marriage", _("早婚早育")
    UNKNOWN = "unknown", _("原因不明")
    OTHER = "other", _("其他")


class State(models.TextChoices):
    OPEN = "open", _("跟踪中")
    CLOSED = "closed", _("已结案")


class Outcome(models.TextChoices):
    RETURNED = "returned", _("劝返复学")
    TRANSFERRED = "transferred", _("转学")
    ABROAD = "abroad", _("出境就读")
    HOME_TEACHING = "home_teaching", _("送教上门")
    DEATH = "death", _("死亡")
    OTHER = "other", _("其他（经县级教育行政部门批准）")


class FollowUpKind(models.TextChoices):
    PHONE = "phone", _("电话联系监护人")
    VISIT = "visit", _("家访劝返")
    OTHER = "other", _("其他")
