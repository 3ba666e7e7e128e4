"""Reads on accounts, scoped to the viewer's subtrees.

Account pages are for system and security admins (their admin grants' subtrees) and for filed department
registrars (their department's subtree, to record filings, 第22条). An account lies in a subtree when its
home unit or any of its grants does. Anything else is "not found" (architecture.md §3).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from xueji.core.errors import FieldError, NotFound
from xueji.regions.models import OrgUnit

from .enums import ADMIN_ROLES, STUDENT_DATA_ROLES, Role
from .jurisdiction import all_grants, data_grants, is_filed_and_trained
from .models import PasswordResetRequest, RegistrarFiling, RoleGrant, User
from .types import Actor

ACCOUNT_MANAGER_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN})


def admin_paths(viewer: Actor) -> list[str]:
    """Subtrees where the viewer is a system or security admin (every account there)."""
    paths = {
        g.org_unit.path
        for g in all_grants(viewer)
        if g.role in ACCOUNT_MANAGER_ROLES and g.org_unit.is_active
    }
    return sorted(paths, key=len)


def filing_paths(viewer: Actor) -> list[str]:
    """Subtrees where the viewer is a filed department registrar (registrar accounts only, to file them)."""
    return sorted({g.org_unit.path for g in data_grants(viewer) if g.role == Role.DEPT_REGISTRAR}, key=len)


def manager_paths(viewer: Actor) -> list[str]:
    """Every subtree in which the viewer sees some accounts."""
    return sorted(set(admin_paths(viewer)) | set(filing_paths(viewer)), key=len)


def can_view_accounts(viewer: Actor) -> bool:
    return bool(manager_paths(viewer))


def _paths_q(paths: list[str]) -> Q:
    q = Q(pk__in=[])
    for p in paths:
        q |= Q(org_unit__path__startswith=p) | Q(grants__org_unit__path__startswith=p)
    return q


def _scope_q(viewer: Actor) -> Q:
    """Admins see all accounts of their subtrees; department registrars only the registrar accounts."""
    q = _paths_q(admin_paths(viewer))
    dept = filing_paths(viewer)
    if dept:
        q |= Q(pk__in=User.objects.filter(_paths_q(dept), grants__role__in=STUDENT_DATA_ROLES).values("pk"))
    return q


STATUS_CHOICES = (
    ("active", "正常"),
    ("sealed", "已封存"),
    ("must_change", "须修改密码"),
    ("unfiled", "未备案/未培训"),
    ("inactive", "已停用"),
)


def user_list(
    *, viewer: Actor, q: str = "", role: str = "", status: str = "", org_unit: OrgUnit | None = None
) -> QuerySet[User]:
    """Accounts in the viewer's subtrees, filtered; newest first."""
    ids = User.objects.filter(_scope_q(viewer)).values("pk")
    qs = User.objects.filter(pk__in=ids)
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__contains=q))
    if role:
        qs = qs.filter(grants__role=role)
    if org_unit is not None:
        qs = qs.filter(
            Q(org_unit__path__startswith=org_unit.path) | Q(grants__org_unit__path__startswith=org_unit.path)
        )
    if status == "active":
        qs = qs.filter(is_active=True, sealed_at__isnull=True)
    elif status == "sealed":
        qs = qs.filter(sealed_at__isnull=False)
    elif status == "must_change":
        qs = qs.filter(must_change_password=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    elif status == "unfiled":
        qs = qs.filter(grants__role__in=STUDENT_DATA_ROLES).filter(
            Q(filing__isnull=True) | Q(filing__trained_on__isnull=True)
        )
    return (
        qs.distinct()
        .select_related("org_unit", "filing")
        .prefetch_related(
            Prefetch("grants", queryset=RoleGrant.objects.select_related("org_unit").order_by("id"))
        )
        .order_by("-date_joined", "-id")
    )


def user_get(*, viewer: Actor, user_id: Any) -> User:
    if not str(user_id).isdigit():
        raise NotFound()
    user = user_list(viewer=viewer).filter(pk=int(user_id)).first()
    if user is None:
        raise NotFound()
    return user


def grant_get(*, viewer: Actor, grant_id: Any) -> RoleGrant:
    if not str(grant_id).isdigit():
        raise NotFound()
    grant = RoleGrant.objects.select_related("user", "org_unit").filter(pk=int(grant_id)).first()
    paths = manager_paths(viewer)
    if grant is None or not any(grant.org_unit.path.startswith(p) for p in paths):
        raise NotFound()
    return grant


def reset_get(*, viewer: Actor, reset_id: Any) -> PasswordResetRequest:
    """A password-reset request of an account the viewer manages (its subtree); anything else NotFound."""
    if not str(reset_id).isdigit():
        raise NotFound()
    reset = (
        PasswordResetRequest.objects.select_related("user", "requested_by", "confirmed_by")
        .filter(pk=int(reset_id))
        .first()
    )
    if reset is None:
        raise NotFound()
    user_get(viewer=viewer, user_id=reset.user_id)
    return reset


def pending_reset(user: User) -> PasswordResetRequest | None:
    """The account's reset request awaiting a security admin's confirmation (issue #6 §3.4), if any."""
    return (
        PasswordResetRequest.objects.select_related("requested_by")
        .filter(user=user, confirmed_at__isnull=True, cancelled_at__isnull=True)
        .first()
    )


def pending_resets(*, viewer: Actor) -> QuerySet[PasswordResetRequest]:
    """Reset requests awaiting confirmation for accounts the viewer manages (a security admin's to-do list)."""
    return (
        PasswordResetRequest.objects.filter(confirmed_at__isnull=True, cancelled_at__isnull=True)
        .filter(user__in=user_list(viewer=viewer).values("pk"))
        .select_related("user", "requested_by")
        .order_by("requested_at")
    )


def filing_of(user: User) -> RegistrarFiling | None:
    return RegistrarFiling.objects.select_related("filed_with", "filed_by").filter(user=user).first()


def org_unit_by_code(*, viewer: Actor, code: str, field: str = "org_unit", label: str = "机构") -> OrgUnit:
    """Resolve an org-unit code (division code for departments, 学校标识码 for schools) typed by the viewer.

    Units outside the viewer's subtrees are reported as unknown (no existence leak)."""
    code = (code or "").strip()
    if not code:
        raise FieldError(field, "required", f"{label}：必填")
    paths = manager_paths(viewer)
    candidates = [
        u
        for u in OrgUnit.objects.filter(code=code, is_active=True).order_by("path")
        if any(u.path.startswith(p) for p in paths)
    ]
    if not candidates:
        raise FieldError(field, "org_unit_unknown", f"{label}：代码 {code} 不存在或不在您的管辖范围内")
    return candidates[0]


def org_unit_for_filing(*, code: str) -> OrgUnit:
    """Filing authorities lie above the registrar, so they are looked up in the whole tree (departments only)."""
    code = (code or "").strip()
    if not code:
        raise FieldError("filed_with", "required", "备案机关：必填")
    unit = OrgUnit.objects.filter(code=code, is_active=True).exclude(level="school").order_by("path").first()
    if unit is None:
        raise FieldError("filed_with", "org_unit_unknown", f"备案机关：代码 {code} 不是有效的教育行政部门")
    return unit


def me(user: User) -> dict[str, Any]:
    """What the signed-in account may know about itself (GET /api/v1/auth/me)."""
    grants = list(all_grants(user))
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "org_unit_id": user.org_unit_id,
        "roles": [
            {
                "role": g.role,
                "role_label": str(Role(g.role).label),
                "org_unit_id": g.org_unit_id,
                "org_unit_name": g.org_unit.name,
                "org_unit_level": g.org_unit.level,
            }
            for g in sorted(grants, key=lambda g: (g.org_unit.path, g.role))
        ],
        "is_admin": bool({g.role for g in grants} & ADMIN_ROLES),
        "filed_and_trained": is_filed_and_trained(user),
        "must_change_password": user.must_change_password,
    }
