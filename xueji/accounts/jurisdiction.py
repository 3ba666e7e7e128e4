"""Jurisdiction: what part of the org tree a user may see and act on (第5、23条).

A grant of a student-data role at an org unit gives the unit's subtree. Student-data roles act only once the
registrar is filed and trained (第22条 先培训后上岗). The three admin roles see no student data.
Objects outside the subtree are reported as "not found" — never "forbidden" with data (architecture.md §3).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.db.models import Q
from django.utils import timezone

from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .enums import ADMIN_ROLES, STUDENT_DATA_ROLES, Role
from .models import RegistrarFiling, RoleGrant, User
from .types import Actor, MaybeActor

NOT_FILED = ApplicationError(
    "registrar_not_filed",
    "学籍管理员尚未完成备案和培训，暂不能办理学籍业务（第二十二条：先培训后上岗）",
)


def all_grants(user: MaybeActor) -> list[RoleGrant]:
    """Every role grant of ``user`` with its org unit, filed or not, at active units or not (cached on the user
    object for the request). The public scoping API's base: callers that open student data use
    :func:`data_grants` (filed, trained, active units only, 第22条); this one serves role checks and the
    admin roles, which see no student data (三权分立). Anonymous users hold none."""
    if not getattr(user, "is_authenticated", False):
        return []
    account = cast(User, user)  # authenticated: the account itself, never AnonymousUser
    cached = getattr(account, "_xueji_grants", None)
    if cached is None:
        cached = list(RoleGrant.objects.filter(user=account).select_related("org_unit"))
        account._xueji_grants = cached
    return cached


def roles(user: MaybeActor) -> set[str]:
    return {g.role for g in all_grants(user)}


def _filing(user: Actor) -> RegistrarFiling | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.filing
    except Exception:  # RelatedObjectDoesNotExist: no filing recorded
        return None


def is_filed_and_trained(user: Actor, today: date | None = None) -> bool:
    """第22条: filing with the department above is recorded, and training happened on or before today."""
    filing = _filing(user)
    if filing is None:
        return False
    today = today or timezone.localdate()
    return filing.trained_on is not None and filing.trained_on <= today and filing.filed_on <= today


def filing_covers(filed_with: OrgUnit, unit: OrgUnit) -> bool:
    """第22条 (学籍管理员报送上级教育行政部门备案): a filing with ``filed_with`` covers a grant at ``unit`` when
    ``filed_with`` is a department strictly above ``unit`` — or ``unit`` itself for the ministry, which files
    its own registrars. The same rule ``accounts.services.filing_record`` checks when the filing is recorded."""
    if unit.level == OrgLevel.NATIONAL:
        return filed_with.pk == unit.pk
    return filed_with.pk != unit.pk and unit.path.startswith(filed_with.path)


def _covered(user: Actor, grant: RoleGrant) -> bool:
    filing = _filing(user)
    if filing is None:
        return False
    return filing_covers(filing.filed_with, grant.org_unit)


def unfiled_grants(user: Actor) -> list[RoleGrant]:
    """Student-data grants that do not (yet) open data: the account is not filed and trained, or its filing is
    with a department that does not cover the grant's unit (第22条; issue #6 §3.6)."""
    grants = [g for g in all_grants(user) if g.role in STUDENT_DATA_ROLES]
    opened = {g.pk for g in data_grants(user)}
    return [g for g in grants if g.pk not in opened]


def data_grants(user: Actor) -> list[RoleGrant]:
    """Grants that open student data: student-data roles of a filed and trained registrar, each only at a unit
    its filing covers (第22条: a role granted later at another unit — e.g. a ministry role for an account
    filed with a city — opens nothing until the account is filed there)."""
    grants = [g for g in all_grants(user) if g.role in STUDENT_DATA_ROLES and g.org_unit.is_active]
    if not grants:
        return []
    try:
        filed = is_filed_and_trained(user)
    except Exception:
        filed = False
    if not filed:
        return []
    return [g for g in grants if _covered(user, g)]


def scope_paths(user: Actor) -> list[str]:
    """The org paths whose subtrees the user may read (student data), most general first, de-duplicated."""
    paths = sorted({g.org_unit.path for g in data_grants(user)}, key=len)
    kept: list[str] = []
    for p in paths:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept


def scope_q(user: Actor, field: str = "scope_path") -> Q:
    """A filter restricting a queryset to the user's jurisdiction (empty jurisdiction → matches nothing)."""
    paths = scope_paths(user)
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= Q(**{f"{field}__startswith": p})
    return q


def in_scope(user: Actor, path: str) -> bool:
    return any(path.startswith(p) for p in scope_paths(user))


def org_scope_q(user: Actor) -> Q:
    """Org units the user may see in the tree: their subtrees plus the chain of ancestors above them
    (so the tree can be drawn), for any role, admins included (they administer accounts on it)."""
    grants = all_grants(user)
    if not grants:
        return Q(pk__in=[])
    q = Q()
    ancestor_ids: set[int] = set()
    for g in grants:
        q |= Q(path__startswith=g.org_unit.path)
        ancestor_ids.update(int(x) for x in g.org_unit.path.strip("/").split("/") if x)
    return q | Q(id__in=ancestor_ids)


def school_registrar_units(user: Actor) -> list[OrgUnit]:
    """Schools where the user registers students: school-registrar grants (a teaching point's records may be
    kept by its central school's registrar, 第22条)."""
    return [g.org_unit for g in data_grants(user) if g.role == Role.SCHOOL_REGISTRAR]


def require_registrar_for_school(user: Actor, school: Any) -> None:
    """The actor must be a filed, trained registrar of the school (or of its central school).

    Raises NotFound when the school lies outside the actor's jurisdiction, ``registrar_not_filed`` when the
    registrar is not yet filed/trained, ``forbidden`` otherwise.
    """
    if not in_scope(user, school.org.path):
        unfiled = unfiled_grants(user)
        if unfiled and (
            not data_grants(user) or any(school.org.path.startswith(g.org_unit.path) for g in unfiled)
        ):
            raise NOT_FILED
        raise NotFound()
    units = {u.id for u in school_registrar_units(user)}
    if school.org_id in units or (school.central_school_id and school.central_school_id in units):
        return

    raise Forbidden("not_school_registrar", "只有本校学籍管理员可以办理此业务")


def require_student_data_reader(user: Actor) -> Actor:
    """The caller must hold a filed and trained student-data role (第22条); otherwise 403 without any data
    (the three admin roles never see student data by default, 三权分立)."""
    if data_grants(user):
        return user
    if roles(user) & STUDENT_DATA_ROLES:
        raise Forbidden(NOT_FILED.code, NOT_FILED.message)
    raise Forbidden("no_student_data_role", "您的角色不能查看或办理学生学籍数据")


def is_admin_only(user: Actor) -> bool:
    r = roles(user)
    return bool(r) and r <= ADMIN_ROLES


def highest_level(user: Actor) -> str | None:
    levels = [g.org_unit.level for g in all_grants(user)]
    order = [OrgLevel.NATIONAL, OrgLevel.PROVINCE, OrgLevel.CITY, OrgLevel.COUNTY, OrgLevel.SCHOOL]
    for lvl in order:
        if lvl in levels:
            return lvl
    return None


def has_student_roles(user: Actor) -> bool:
    """The user holds a student-data role (whether or not the registrar is filed and trained yet)."""
    return bool(roles(user) & STUDENT_DATA_ROLES)


def require_student_roles(user: Actor) -> None:
    """Pages about students exist only for student-data roles; the admin roles (三权分立) get a 404."""
    if not has_student_roles(user):
        raise NotFound()


def can_resolve_problems(user: Actor) -> bool:
    """第9条: problem records are resolved by the department level (registrar or approver)."""
    return any(g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} for g in data_grants(user))
