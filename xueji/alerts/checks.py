"""Deploy checks of the separation of duties (三权分立; security.md §1.4 and acceptance test 9; 等保 8.1.5).

``manage.py check --deploy --database default`` reports:

* ``xueji.E101`` — an account with ``is_superuser``: Django's ``has_perm`` answers yes to every permission of
  an active superuser, so in production no account holds it;
* ``xueji.E102`` — an account holding two of the three admin roles, or an admin role beside a business role
  (grants written around ``accounts.services.role_grant``, e.g. by hand in the database).

Like Django's own database checks they read the database only when asked to (``--database``); the deploy run
of CI and the production start script pass it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core import checks
from django.db import DatabaseError

from xueji.accounts.enums import ADMIN_ROLES
from xueji.accounts.models import RoleGrant, User


def _aliases(databases: Sequence[str] | None) -> Iterable[str]:
    return databases or ()


@checks.register(checks.Tags.security, deploy=True)
def no_superuser(app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    for alias in _aliases(databases):
        try:
            names = list(
                User.objects.using(alias).filter(is_superuser=True).values_list("username", flat=True)[:5]
            )
        except DatabaseError:
            continue  # not migrated yet: nothing to check
        if names:
            errors.append(
                checks.Error(
                    f"数据库 {alias} 中有超级用户账号（is_superuser）：{', '.join(names)}",
                    hint="生产环境不得有超级用户（三权分立，security.md §1.4）：用 manage.py shell 取消 is_superuser，"
                    "权限一律通过角色授权。",
                    id="xueji.E101",
                )
            )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def admin_roles_separated(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Any]:
    errors: list[Any] = []
    for alias in _aliases(databases):
        held: dict[str, set[str]] = defaultdict(set)
        try:
            for username, role in RoleGrant.objects.using(alias).values_list("user__username", "role"):
                held[username].add(role)
        except DatabaseError:
            continue
        mixed = sorted(
            name
            for name, roles in held.items()
            if len(roles & ADMIN_ROLES) > 1 or (roles & ADMIN_ROLES and roles - ADMIN_ROLES)
        )
        if mixed:
            errors.append(
                checks.Error(
                    f"数据库 {alias} 中有账号兼任多个管理员角色或兼任管理员与业务角色：{', '.join(mixed[:5])}",
                    hint="系统管理员、安全管理员、审计管理员须由不同账号担任，且不得兼任学籍业务角色（三权分立）。",
                    id="xueji.E102",
                )
            )
    return errors
