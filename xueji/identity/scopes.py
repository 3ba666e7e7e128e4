"""The scopes of the digital identity (第24条) and what each lets a relying party learn.

A leaf module (no model imports) so that ``config/settings.py`` can take ``OAUTH2_PROVIDER["SCOPES"]`` from
:data:`SCOPES`. Each relying party serves one audience (:class:`Audience`): staff systems (a teachers' platform)
or systems for guardians (a 资助 or library system for families); a scope is registrable only for its audience.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

OPENID = "openid"
PROFILE = "profile"
ROLE = "xueji.role"
ENROLLMENT = "xueji.enrollment"
PUPIL_NAME = "xueji.pupil_name"
VERIFY = "xueji.verify"

#: scope → what the consent page says the relying party will get.
SCOPES = {
    OPENID: _("本系统内有效的用户标识（不可与其他系统关联）"),
    PROFILE: _("姓名"),
    ROLE: _("角色与所属机构"),
    ENROLLMENT: _("所监护子女的在读情况：学校、学段、年级、学籍状态（不含姓名、证件号和学籍号）"),
    PUPIL_NAME: _("所监护子女的姓名"),
    VERIFY: _("核验所监护子女是否在某校（某年级）在读，只回答“是”或“否”"),
}


class Audience(models.TextChoices):
    STAFF = "staff", _("教职工（使用本系统的工作人员账号登录）")
    GUARDIAN = "guardian", _("家长（使用家长端手机号登录）")


#: audience → the scopes (besides ``openid``) a relying party of that audience can be registered for.
AUDIENCE_SCOPES = {
    Audience.STAFF: frozenset({PROFILE, ROLE}),
    Audience.GUARDIAN: frozenset({ENROLLMENT, PUPIL_NAME, VERIFY}),
}
