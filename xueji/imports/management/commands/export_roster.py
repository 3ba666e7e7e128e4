"""manage.py export_roster --school CODE OUT.xlsx [--user USERNAME]

The school's roster of active students as .xlsx (identity numbers and 学籍号 masked), audited as
``ROSTER_EXPORTED`` in the name of the school's registrar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.core.errors import ApplicationError
from xueji.imports.services import roster_export
from xueji.schools.models import School


class Command(BaseCommand):
    help = "导出学校在读学生名册（.xlsx，证件号脱敏）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="输出文件（.xlsx）")
        parser.add_argument("--school", required=True, help="学校标识码")
        parser.add_argument("--user", help="以该学籍管理员的身份导出（省略时使用本校唯一的学籍管理员）")

    def handle(self, *args: Any, **options: Any) -> None:
        school = School.objects.select_related("org").filter(school_code=options["school"]).first()
        if school is None:
            raise CommandError(f"找不到学校标识码为 {options['school']} 的学校")
        username = options.get("user")
        if username:
            actor = User.objects.filter(username=username).first()
            if actor is None:
                raise CommandError(f"找不到用户 {username}")
        else:
            ids = RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit=school.org).values_list(
                "user_id", flat=True
            )
            users = list(User.objects.filter(pk__in=ids, is_active=True)[:2])
            if len(users) != 1:
                raise CommandError("请用 --user 指定导出人（本校学籍管理员）")
            actor = users[0]
        out = Path(options["out"])
        try:
            count = roster_export(actor=actor, school=school, target=out)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}（{exc.code}）", returncode=1) from exc
        self.stdout.write(self.style.SUCCESS(f"已导出 {count} 名学生到 {out}"))
