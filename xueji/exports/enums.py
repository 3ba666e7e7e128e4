"""Codes of approved exports (第24条): what is exported, the request's states, who authorised it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    ROSTER = "roster", _("学生名册")
    STATISTICS = "statistics", _("学籍统计表")
    FLOWS = "flows", _("学籍变动统计")


class State(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审批")
    APPROVED = "approved", _("已批准，正在生成")
    REJECTED = "rejected", _("未批准")
    READY = "ready", _("可下载")
    FAILED = "failed", _("生成失败")
    EXPIRED = "expired", _("已过期")


class AuthorityLevel(models.TextChoices):
    """第24条: data leaves the system only where a law requires it or a people's government at county level or
    above (县级以上人民政府) approved it."""

    LAW = "law", _("法律、行政法规规定")
    COUNTY = "county", _("县级人民政府")
    CITY = "city", _("市级人民政府")
    PROVINCE = "province", _("省级人民政府")
    NATIONAL = "national", _("国务院及其部门")
