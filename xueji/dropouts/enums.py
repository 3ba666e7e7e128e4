"""Code lists of the dropout ledger 控辍保学台账 (第17条)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

#: 第17条 applies to compulsory education: only primary and junior pupils have dropout cases.
COMPULSORY_STAGES = frozenset({"primary", "junior"})

#: The first follow-up is due this many working days after a case opens (控辍保学 dynamic tracking).
FIRST_FOLLOW_UP_WORKING_DAYS = 5

#: Default of ``settings.XUEJI_DROPOUT_ESCALATE_UP_WORKING_DAYS``: a follow-up overdue by more than this many
#: working days goes up from the county to the city (第5条 分级负责; 第17条).
ESCALATE_UP_WORKING_DAYS = 10

#: Default of ``settings.XUEJI_DROPOUT_ESCALATE_PROVINCE_WORKING_DAYS``: a follow-up overdue by more than this many
#: working days goes up from the city to the province (第17条 逐级上报; 第5条 分级负责).
ESCALATE_PROVINCE_WORKING_DAYS = 30

#: Audit event types of this app that ``audit.enums.EventType`` does not name yet (the value is what is stored).
EVENT_ESCALATED = "dropout.escalated"


class Source(models.TextChoices):
    SCHOOL = "school", _("学校报告")
    LEAD = "lead", _("相关部门反馈线索")


class Escalation(models.TextChoices):
    """Who is chasing an overdue follow-up: nobody beyond the handler, the county, the city, or the province.
    The values are ordered: a case only ever moves up while it stays overdue."""

    NONE = "none", _("未升级")
    COUNTY = "county", _("已升级至县级教育行政部门")
    CITY = "city", _("已升级至地市级教育行政部门")
    PROVINCE = "province", _("已升级至省级教育行政部门")


ESCALATION_RANK = {Escalation.NONE: 0, Escalation.COUNTY: 1, Escalation.CITY: 2, Escalation.PROVINCE: 3}


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
    #: Written by the system, not a contact: the case closed because the register recorded the change.
    SYSTEM = "system", _("系统记录")
