"""``manage.py promote --org CODE --year 2026 --user USERNAME [--preview]`` — 年度升级 (第7条).

Runs :func:`xueji.changes.promotion.promotion_run` (or ``promotion_preview``) for the region of the org unit
with code ``CODE`` (a division code such as 440105, "000000" for the whole country, or a 学校标识码), as the
named department registrar, and prints the report.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.changes.promotion import CATEGORY_LABELS, PromotionReport, promotion_preview, promotion_run
from xueji.core.errors import ApplicationError
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit


class Command(BaseCommand):
    help = "年度升级（第七条）：按地区和学年批量升级，--preview 只预览不写入"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--org", required=True, help="机构代码：行政区划代码（全国为 000000）或学校标识码"
        )
        parser.add_argument("--year", required=True, type=int, help="升入的学年（开学年份），例如 2026")
        parser.add_argument("--user", required=True, help="办理人账号（县级及以上教育行政部门学籍管理员）")
        parser.add_argument("--preview", action="store_true", help="只预览，不写入")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["org"].strip()
        unit = (
            OrgUnit.objects.exclude(level=OrgLevel.SCHOOL).filter(code=code).first()
            or OrgUnit.objects.filter(level=OrgLevel.SCHOOL, code=code).first()
        )
        if unit is None:
            raise CommandError(f"找不到机构代码 {code}")
        try:
            actor = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"找不到账号 {options['user']}") from exc
        try:
            if options["preview"]:
                report = promotion_preview(actor=actor, org_unit=unit, school_year=options["year"])
            else:
                report = promotion_run(actor=actor, org_unit=unit, school_year=options["year"])
        except ApplicationError as exc:
            detail = "；".join(f"{k}：{v}" for k, v in exc.fields.items())
            raise CommandError(
                f"[{exc.code}] {exc.message}{('（' + detail + '）') if detail else ''}"
            ) from exc
        self._print(report, preview=options["preview"])

    def _print(self, report: PromotionReport, *, preview: bool) -> None:
        out = self.stdout.write
        title = "预览" if preview else "完成"
        out(f"{report.school_year} 学年年度升级{title}：{report.org_name}")
        if report.promoted is not None:
            out(f"  已升级：{report.promoted} 人")
        for key, label in CATEGORY_LABELS.items():
            out(f"  {label}：{report.counts.get(key, 0)}")
        by_grade: dict[int, int] = {}
        for row in report.by_school_grade:
            by_grade[row["grade"]] = by_grade.get(row["grade"], 0) + row["promote"]
        if by_grade:
            out(
                "  按年级（升级前年级 → 人数）："
                + "，".join(f"{g}年级 {n}" for g, n in sorted(by_grade.items()) if n)
            )
        if report.by_school_truncated:
            out("  （学校明细过多，仅统计前若干所学校）")
        if report.in_flight:
            out("  有在办学籍业务、未升级的学生：")
            for s in report.in_flight:
                out(
                    f"    {s['student_number']} {s['name']} {s['school_name']} {s['grade']}年级 {s['kind']} {s['request_id']}"
                )
