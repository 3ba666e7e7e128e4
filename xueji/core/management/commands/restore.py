"""``manage.py restore FILE``: restore a backup and verify it against its manifest (issue #6 §4).

Refuses a dump whose SHA-256 does not match its manifest, and refuses without ``--yes`` (or a typed "yes" at a
terminal): the configured database is overwritten. ``--target`` restores elsewhere instead (SQLite: a file
path; PostgreSQL: an existing database on the same server), e.g. for the periodic restore test. After the
restore, the row count of every table and the last audit event are compared with the manifest; any
difference is reported and the command fails.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core import backups


class Command(BaseCommand):
    help = "从备份恢复数据库，并与清单核对行数和最后一条审计事件。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="备份文件（旁边须有 .manifest.json 清单）")
        parser.add_argument(
            "--target", help="恢复到别处：SQLite 为文件路径，PostgreSQL 为同一服务器上已存在的数据库名"
        )
        parser.add_argument("--yes", action="store_true", help="确认覆盖目标数据库")
        parser.add_argument("--database", default="default")
        parser.add_argument("--timeout", type=int, default=3600, help="pg_restore 最长运行秒数")

    def handle(self, *args: Any, **options: Any) -> None:
        dump: Path = options["file"]
        try:
            manifest = backups.read_manifest(dump)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        where = options["target"] or "当前配置的数据库"
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(f"恢复会覆盖{where}：请加 --yes 确认")
            answer = input(f"恢复 {dump.name}（{manifest['created_at']}）将覆盖{where}。输入 yes 继续：")
            if answer.strip() != "yes":
                raise CommandError("已取消，未做任何改动")
        try:
            result = backups.restore(
                dump, alias=options["database"], target=options["target"], timeout=options["timeout"]
            )
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        tables = len(result.snapshot.tables)
        rows = sum(result.snapshot.tables.values())
        if result.problems:
            raise CommandError("恢复后核对不一致：\n" + "\n".join(result.problems))
        last = result.snapshot.last_audit_event
        self.stdout.write(
            f"恢复完成并已核对：{result.target}，{tables} 张表共 {rows} 行与清单一致；"
            f"最后一条审计事件 {last['id'] if last else '无'} 一致。"
        )
