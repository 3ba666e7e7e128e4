"""Typed audit events (第23、24条: full operation logging)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    LOGIN = "auth.login", _("登录")
    LOGIN_FAILED = "auth.login_failed", _("登录失败")
    LOGOUT = "auth.logout", _("退出")
    PASSWORD_CHANGED = "auth.password_changed", _("修改密码")
    TOKEN_ISSUED = "auth.token_issued", _("签发API令牌")
    ACCOUNT_CREATED = "account.created", _("创建账号")
    ACCOUNT_SEALED = "account.sealed", _("封存账号")
    ACCOUNT_UNSEALED = "account.unsealed", _("解封账号")
    ROLE_GRANTED = "account.role_granted", _("授予角色")
    ROLE_REVOKED = "account.role_revoked", _("撤销角色")
    FILING_RECORDED = "account.filing_recorded", _("登记备案与培训")
    ORG_CREATED = "org.created", _("创建机构")
    SCHOOL_CREATED = "school.created", _("创建学校")
    SCHOOL_UPDATED = "school.updated", _("修改学校")
    STUDENT_REGISTERED = "student.registered", _("注册学籍")
    STUDENT_UPDATED = "student.updated", _("修改学籍信息")
    STUDENT_VIEWED = "student.viewed", _("查看学生完整信息")
    STUDENT_REVEALED = "student.revealed", _("查看完整证件号/电话")
    GUARDIAN_ADDED = "student.guardian_added", _("添加家庭成员")
    ARCHIVE_ATTACHED = "archive.attached", _("上传档案材料")
    ARCHIVE_COMPLETED = "archive.completed", _("档案建立完成")
    PROBLEM_OPENED = "problem.opened", _("生成问题学籍")
    PROBLEM_RESOLVED = "problem.resolved", _("处理问题学籍")
    EXTRA_FIELDS_DEFINED = "policy.extra_fields_defined", _("定义非基础学籍信息")
    EXTRA_FIELDS_FILED = "policy.extra_fields_filed", _("非基础学籍信息报部备案")
    IMPORT_COMMITTED = "import.committed", _("批量导入")
    ROSTER_EXPORTED = "export.roster", _("导出名册")
    CALENDAR_UPDATED = "calendar.updated", _("维护官方日历")
