"""Navigation for the shared layout, built from the viewer's roles.

Lives at the top of the house (the dashboard app reads every app, nothing imports it) so that core imports no
app: the menu names every app's pages and the roles that see them (三权分立: the admin roles see no student
pages).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.accounts.types import MaybeActor

BUSINESS_ROLES = frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER})
# (url name, label, roles that see it; None = every signed-in user). Labels are marked with N_ so that
# makemessages collects them; they are translated when the menu is built.
NAV: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("dashboard:dashboard", N_("工作台"), None),
    ("students:list", N_("学生查询"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER})),
    ("students:register", N_("新生注册"), frozenset({Role.SCHOOL_REGISTRAR})),
    ("imports:list", N_("批量导入"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR})),
    ("imports:roster", N_("名册导出"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR})),
    (
        "changes:worklist",
        N_("待办审核"),
        frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER}),
    ),
    ("changes:list", N_("学籍变动"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER})),
    ("guardians:worklist", N_("家长申请"), frozenset({Role.SCHOOL_REGISTRAR})),
    (
        "checks:queue",
        N_("问题学籍"),
        frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER}),
    ),
    ("dropouts:ledger", N_("控辍保学"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR})),
    # approved, de-identified exports (第24条): requests, and the approvers' worklist
    ("exports:list", N_("数据导出"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER})),
    ("certificates:index", N_("电子学籍证明"), frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR})),
    (
        "verification:index",
        N_("学籍核查"),
        frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER}),
    ),
    ("oversight:overview", N_("违规监督"), frozenset({Role.DEPT_REGISTRAR, Role.APPROVER})),
    (
        "statistics:overview",
        N_("学籍统计"),
        frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER}),
    ),
    (
        "schools:list",
        N_("学校"),
        frozenset({Role.SCHOOL_REGISTRAR, Role.DEPT_REGISTRAR, Role.APPROVER, Role.SYSTEM_ADMIN}),
    ),
    # the org tree: the business roles' jurisdiction and the system administrator's resources (三权分立: the
    # security and audit administrators' consoles hold only their own pages)
    ("regions:tree", N_("机构"), frozenset({*BUSINESS_ROLES, Role.SYSTEM_ADMIN})),
    ("policies:list", N_("非基础信息"), frozenset({Role.DEPT_REGISTRAR})),
    (
        "accounts:users",
        N_("账号管理"),
        frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.DEPT_REGISTRAR}),
    ),
    ("alerts:console", N_("安全预警"), frozenset({Role.SECURITY_ADMIN})),
    ("identity:clients", N_("接入系统"), frozenset({Role.SECURITY_ADMIN})),
    ("audit:list", N_("审计日志"), frozenset({Role.AUDIT_ADMIN})),
    ("dashboard:audit_export", N_("导出审计记录"), frozenset({Role.AUDIT_ADMIN})),
    ("dashboard:system", N_("系统配置与备份"), frozenset({Role.SYSTEM_ADMIN})),
    # every staff account manages its own second factors (passkeys, tokens, recovery codes)
    ("accounts:mfa_factors", N_("第二因子"), None),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user: MaybeActor | None = getattr(request, "user", None)  # anonymous visitors get no menu
    if user is None or not user.is_authenticated:
        return {}
    mine = roles(user)
    items: list[dict[str, Any]] = []
    for name, label, allowed in NAV:
        if allowed is not None and not (mine & allowed):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": _(label), "active": False})
    # Highlight only the longest matching entry (/students/new/ is 新生注册, not also 学生查询).
    matches = [
        i
        for i in items
        if request.path == i["url"] or (i["url"] != "/" and request.path.startswith(i["url"]))
    ]
    if matches:
        max(matches, key=lambda i: len(i["url"]))["active"] = True
    role_labels = sorted({str(Role(r).label) for r in mine})
    return {"nav_items": items, "nav_role_label": "、".join(role_labels)}
