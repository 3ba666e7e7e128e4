"""The early-warning rules (第23条: 建立预警机制) and the states of an alert."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleKey(models.TextChoices):
    REVEAL_BURST = "reveal_burst", _("短时间内大量查看完整证件号/电话")
    LIST_BURST = "list_burst", _("短时间内大量浏览学生名单")
    MASS_EXPORT = "mass_export", _("短时间内多次导出")
    OFF_HOURS = "off_hours", _("非工作时间访问学生数据")
    NEW_IP_ADMIN = "new_ip_admin", _("管理员从新的 IP 地址登录")
    LOGIN_FAILURES = "login_failures", _("登录失败次数过多")
    PRIVILEGE_GRANT = "privilege_grant", _("授予角色")
    SEALED_REACTIVATED = "sealed_reactivated", _("封存账号被解封")
    CROSS_REGION_LOOKUP = "cross_region_lookup", _("频繁跨区域身份查询")
    CHAIN_BROKEN = "chain_broken", _("审计链校验失败")


class Severity(models.TextChoices):
    INFO = "info", _("提示")
    WARNING = "warning", _("警告")
    CRITICAL = "critical", _("严重")


class AlertState(models.TextChoices):
    OPEN = "open", _("待处理")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    RESOLVED = "resolved", _("已解决")
