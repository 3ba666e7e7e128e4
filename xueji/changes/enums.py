"""Kinds of status change (第7、11–21条) and the parties of an approval chain."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.students.enums import StudentStatus

#: 在读 or 复学: the statuses of a pupil attending school (from which most changes start).
IN_SCHOOL: frozenset[str] = frozenset({StudentStatus.ENROLLED, StudentStatus.RESUMED})


class ChangeKind(models.TextChoices):
    TRANSFER = "transfer", _("转学")
    SUSPENSION = "suspension", _("休学")
    RESUMPTION = "resumption", _("复学")
    WITHDRAWAL = "withdrawal", _("退学")
    DEFERRAL = "deferral", _("缓学")
    REFORM_PLACEMENT = "reform_placement", _("进入专门学校")
    REFORM_RETURN = "reform_return", _("专门学校返回原校")
    SPECIAL_EDUCATION = "special_education", _("特殊教育认定")
    SPECIAL_EDUCATION_DECISION = "special_ed_decision", _("特殊教育评估决定")
    PROGRESSION = "progression", _("升学")
    GRADUATION = "graduation", _("毕业")
    COMPLETION = "completion", _("结业")
    INCOMPLETE = "incomplete", _("肄业")
    ABROAD = "abroad", _("出境就读")
    RETURN_FROM_ABROAD = "return_from_abroad", _("境外返回")
    DEATH = "death", _("死亡注销")
    KEY_DATA_CHANGE = "key_data_change", _("关键数据变更")


class Party(models.TextChoices):
    """Who acts on a step, relative to the request."""

    SCHOOL = "school", _("学籍所在学校")
    SCHOOL_COUNTY = "school_dept", _("学籍所在学校主管部门")
    SCHOOL_CITY = "school_city", _("学籍所在地市")
    SCHOOL_PROVINCE = "school_province", _("学籍所在省")
    TARGET_SCHOOL = "target_school", _("转入/接收学校")
    TARGET_COUNTY = "target_dept", _("转入学校主管部门")
    TARGET_CITY = "target_city", _("转入地市")
    TARGET_PROVINCE = "target_province", _("转入省")
    HOUSEHOLD_COUNTY = "household_county", _("户籍所在地县级教育行政部门")


class Scope(models.TextChoices):
    """Geographic scope of a two-school change (chains differ by scope, domain.md §3.1)."""

    SAME_SCHOOL = "same_school", _("本校")
    SAME_COUNTY = "same_county", _("县内")
    CROSS_COUNTY = "cross_county", _("跨县")
    CROSS_CITY = "cross_city", _("跨市")
    CROSS_PROVINCE = "cross_province", _("跨省")
    NONE = "none", _("不适用")


class Entry(models.TextChoices):
    """Where the pages start a kind (and whether the API's body names the student nationally)."""

    RECORD = "record", _("从学生学籍发起")
    LOOKUP = "lookup", _("接收学校按学籍号和姓名查找学生后发起")
    RECEIVING = "receiving", _("接收学校在表单中填写学籍号和姓名")
    HOUSEHOLD = "household", _("户籍所在地县级教育行政部门发起")


#: Kinds whose ``apply`` writes the grade and class captured at submission (a resumption, a return): the
#: annual promotion leaves their students alone, and a scheduled one is void if the record's grade or class
#: changed meanwhile (issue 8 item 10).
GRADE_SETTING_KINDS = frozenset(
    {
        ChangeKind.RESUMPTION,
        ChangeKind.REFORM_RETURN,
        ChangeKind.RETURN_FROM_ABROAD,
        ChangeKind.SPECIAL_EDUCATION_DECISION,
    }
)
