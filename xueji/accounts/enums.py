"""Roles. Business roles act on student data within a jurisdiction; the three admin roles (三权分立,
等保 8.1.5) are mutually exclusive and see no student data by default."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SCHOOL_REGISTRAR = "school_registrar", _("学校学籍管理员")
    DEPT_REGISTRAR = "dept_registrar", _("教育行政部门学籍管理员")
    APPROVER = "approver", _("审核人")
    SYSTEM_ADMIN = "system_admin", _("系统管理员")
    SECURITY_ADMIN = "security_admin", _("安全管理员")
    AUDIT_ADMIN = "audit_admin", _("审计管理员")


ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})
REGISTRAR_ROLES = frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER})
# Roles that read and write student records (within their jurisdiction).
STUDENT_DATA_ROLES = REGISTRAR_ROLES
