"""``manage.py backup``: a consistent dump of the database and its manifest (issue #6 §4).

SQLite: online backup API; PostgreSQL: ``pg_dump --format=custom`` (as the owner role when configured) on an
exported snapshot. Writes ``var/backups/xueji-<UTC time>.{sqlite3,pgdump}`` and ``….manifest.json`` (row
counts, last audit event, SHA-256 of the dump). Backups hold personal data (第24条): files 0600, directory
0700; encrypt them at rest and off-site (issue #11).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core import backups


class Command(BaseCommand):
    help = "备份数据库（SQLite 在线备份 / PostgreSQL pg_dump），并在备份文件旁写清单（行数、最后审计事件、SHA-256）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="备份目录（默认 XUEJI_VAR_DIR/backups，权限 0700）",
        )
        parser.add_argument("--database", default="default")
        parser.add_argument("--timeout", type=int, default=3600, help="pg_dump 最长运行秒数")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["output_dir"] or Path(settings.VAR_DIR) / "backups"
        try:
            dump, manifest = backups.backup(directory, alias=options["database"], timeout=options["timeout"])
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"备份完成：{dump}\n清单：{manifest}")
        self.stdout.write("提醒：备份含个人信息，须加密保存并异地存放。")
