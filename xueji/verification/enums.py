"""Code lists of the semester verification 学籍核查 (第25条)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

#: Audit event types of this app that ``audit.enums.EventType`` does not name yet (the value is what is stored).
EVENT_ROUND_OPENED = "verification.round_opened"
EVENT_ROUND_CLOSED = "verification.round_closed"
EVENT_FINDING_SAVED = "verification.finding_saved"
EVENT_FINDING_REMOVED = "verification.finding_removed"
EVENT_SUBMITTED = "verification.submitted"
EVENT_ACCEPTED = "verification.accepted"
EVENT_RETURNED = "verification.returned"

#: Notice keys written to ``changes.models.NOTICE_TEXTS`` for this app.
NOTICE_OPEN = "verify_open"
NOTICE_SUBMITTED = "verify_submitted"
NOTICE_RETURNED = "verify_returned"
NOTICE_ACCEPTED = "verify_accepted"


class Semester(models.TextChoices):
    FIRST = "1", _("第一学期")
    SECOND = "2", _("第二学期")


class RoundState(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class ReturnState(models.TextChoices):
    DRAFT = "draft", _("未提交")
    SUBMITTED = "submitted", _("已提交待审核")
    RETURNED = "returned", _("已退回")
    ACCEPTED = "accepted", _("已通过")


class FindingKind(models.TextChoices):
    """The exceptions a school reports (第25条: 人籍分离、空挂学籍; 学生基础学籍信息准确 → 需更正)."""

    ABSENT = "absent", _("人籍分离")
    PHANTOM = "phantom", _("空挂学籍")
    CORRECTION = "correction", _("需更正")


class Whereabouts(models.TextChoices):
    """Where a pupil on the register but not attending is (人籍分离)."""

    OTHER_SCHOOL = "other_school", _("在其他学校就读")
    NOT_IN_SCHOOL = "not_in_school", _("未在任何学校就读（疑似辍学）")
    ILLNESS = "illness", _("因病在家")
    ABROAD = "abroad", _("出境")
    UNKNOWN = "unknown", _("下落不明")
    OTHER = "other", _("其他")


class CorrectionField(models.TextChoices):
    """Which data of the record must be corrected (第25条: 学生基础学籍信息和学籍变动信息准确)."""

    NAME = "name", _("姓名")
    GENDER = "gender", _("性别")
    BIRTH_DATE = "birth_date", _("出生日期")
    ID_NUMBER = "id_number", _("身份证件")
    GRADE_CLASS = "grade_class", _("年级班级")
    STATUS = "status", _("学籍状态")
    HOUSEHOLD = "household", _("户口信息")
    FAMILY = "family", _("家庭成员或监护人")
    OTHER = "other", _("其他")
