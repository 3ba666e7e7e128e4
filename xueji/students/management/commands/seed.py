"""``manage.py seed``: the demo region, one login per level and N students (used by ``make run``).

Idempotent: a second run finds the demo region, creates nothing and prints the logins again.

Production mode (``XUEJI_ENV=production``, issue #6 §1): refused unless ``--allow-production-demo`` is given
(a demo region and logins with a published password do not belong in a live register); when forced, every
demo login must change its password at first login (第24条, security.md §1).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.accounts.services import password_change_demand
from xueji.students import demo


class Command(BaseCommand):
    help = "载入演示数据（教育行政部门、学校、各级演示账号与学生），已载入时只显示演示账号"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--students", type=int, default=300, help="学生人数（默认 300；基准测试可用 1000000）"
        )
        parser.add_argument("--seed", type=int, default=2026, help="随机种子（同一种子与日期生成相同数据）")
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="按此日期计算学年、年龄与档案期限（YYYY-MM-DD，默认今天）",
        )
        parser.add_argument(
            "--demo-departments-only",
            action="store_true",
            help="只载入广东、北京的教育行政部门（默认载入全国）",
        )
        parser.add_argument(
            "--allow-production-demo",
            action="store_true",
            help="生产模式（XUEJI_ENV=production）下仍载入演示数据；演示账号首次登录须修改密码",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        students = options["students"]
        if students < 0:
            raise CommandError("--students 不能为负数")
        production = bool(getattr(settings, "PRODUCTION", False))
        if production and not options["allow_production_demo"]:
            raise CommandError(
                "生产模式（XUEJI_ENV=production）下不载入演示数据：演示账号的密码是公开的。"
                "确需在生产环境演示时，请加 --allow-production-demo（演示账号首次登录须修改密码）。"
            )
        verbosity = options.get("verbosity", 1)
        step = max(50_000, students // 20)
        shown = [0]

        def progress(done: int, total: int, seconds: float) -> None:
            if verbosity >= 1 and done - shown[0] >= step:
                shown[0] = done
                self.stdout.write(f"  已注册 {done:,}/{total:,} 名学生（{done / seconds:,.0f} 人/秒）")

        report = demo.seed_demo(
            students=students,
            seed=options["seed"],
            today=options["today"],
            all_departments=not options["demo_departments_only"],
            progress=progress,
        )
        if report.created:
            t = report.seconds
            self.stdout.write(
                self.style.SUCCESS(
                    f"已载入演示数据：教育行政部门 {report.departments_created} 个（{t['departments']:.2f} 秒），"
                    f"学校 {report.schools} 所，学生 {report.students:,} 名（{t['students']:.1f} 秒，"
                    f"{report.students_per_second:,.0f} 人/秒），疑似重复 {report.suspected_duplicates} 条，"
                    f"档案逾期 {report.overdue_archives} 名"
                )
            )
        else:
            self.stdout.write(f"演示数据已存在（学生 {report.students:,} 名），未做任何修改。")
        if production:
            password_change_demand(
                actor=None, usernames=[login.username for login in demo.LOGINS], reason="生产模式下的演示账号"
            )
            self.stdout.write(self.style.WARNING("生产模式：演示账号首次登录须修改密码。"))
        self._print_logins()

    def _print_logins(self) -> None:
        rows = [("层级", "用户名", "密码", "机构"), *demo.demo_logins()]
        widths = [max(_width(r[i]) for r in rows) for i in range(3)]
        self.stdout.write("")
        self.stdout.write("演示账号（仅用于演示环境）：")
        for row in rows:
            cells = [row[i] + " " * (widths[i] - _width(row[i])) for i in range(3)]
            self.stdout.write("  " + "  ".join([*cells, row[3]]))
        self.stdout.write(
            "管理员和县级以上部门账号首次登录时须用手机身份验证器（TOTP）绑定第二因子（等保三级，issue 11）；"
            "学校账号导出名册时同样需要。"
        )


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
