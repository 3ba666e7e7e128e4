"""manage.py import_students FILE --school CODE [--dry-run] [--user USERNAME]

Bulk registration from the command line (第6条), for files of any size: the same services as the web page
(dry run, then an all-or-nothing commit), with a progress bar on stderr (rows/s and ETA). Exit code 0 when
the file was imported (or, with --dry-run, is clean); 1 when it was refused or has problems — the first 20
problems are printed in Chinese.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.core.errors import ApplicationError
from xueji.imports import services
from xueji.imports.models import ImportBatch
from xueji.schools.models import School

SHOWN_PROBLEMS = 20


class ProgressBar:
    """A one-line text progress bar with rows/s and ETA (redrawn at most 5 times a second on a terminal;
    one line per 10% otherwise, so logs stay readable)."""

    def __init__(self, stream: Any, label: str, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_decile = -1
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def update(self, done: int, total: int, *, final: bool = False) -> None:
        now = time.monotonic()
        total = max(total, done, 1)
        fraction = done / total
        decile = int(fraction * 10)
        if not final:
            if self.tty and now - self.last_draw < 0.2:
                return
            if not self.tty and decile == self.last_decile:
                return
        self.last_draw, self.last_decile = now, decile
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0
        filled = int(self.width * fraction)
        bar = "#" * filled + "." * (self.width - filled)
        line = (
            f"{self.label} [{bar}] {fraction * 100:5.1f}% {done}/{total} 行 "
            f"{rate:,.0f} 行/秒 {'用时' if final else '剩余'} {_clock(elapsed if final else eta)}"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Command(BaseCommand):
    help = "批量导入学生学籍（.xlsx 或 .csv，整个文件一次导入，任一行出错则全部不导入）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="导入文件（.xlsx 或 .csv）")
        parser.add_argument("--school", required=True, help="学校标识码")
        parser.add_argument("--user", help="以该学籍管理员的身份导入（省略时使用本校唯一的学籍管理员）")
        parser.add_argument("--dry-run", action="store_true", help="只校验，不导入")
        parser.add_argument(
            "--max-mb",
            type=int,
            help="本次允许的最大文件大小（MB），默认取 IMPORT_MAX_BYTES；100 万行的 CSV 约 470 MB",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if options.get("max_mb"):
            # The command runs in its own process: the limit applies to this import only.
            settings.IMPORT_MAX_BYTES = options["max_mb"] * 1048576
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        school = School.objects.select_related("org").filter(school_code=options["school"]).first()
        if school is None:
            raise CommandError(f"找不到学校标识码为 {options['school']} 的学校")
        actor = self._actor(school, options.get("user"))
        err = self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr
        bars: dict[str, ProgressBar] = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                bar = bars[phase] = ProgressBar(err, "校验" if phase == "check" else "导入")
            bar.update(done, total)

        try:
            batch = services.import_batch_create(
                actor=actor, school=school, uploaded_file_path=path, file_name=path.name
            )
            self.stdout.write(f"已上传：{path.name}（约 {batch.progress_total} 行），批次 {batch.pk}")
            with contextlib.suppress(ApplicationError):  # recorded on the batch; reported below
                services.import_batch_check(actor=actor, batch=batch, progress=progress)
            self._finish_bar(bars, "check", batch.total_rows)
            if batch.status != ImportBatch.Status.CHECKED:
                self._report(batch)
                raise CommandError(f"校验未通过：{batch.message}", returncode=1)
            self.stdout.write(self.style.SUCCESS(f"校验通过：{batch.total_rows} 行均可导入"))
            if options["dry_run"]:
                return
            try:
                services.import_batch_commit(actor=actor, batch=batch, progress=progress)
            except ApplicationError as exc:
                batch.refresh_from_db()
                self._report(batch)
                raise CommandError(f"导入失败：{exc.message}", returncode=1) from exc
            self._finish_bar(bars, "commit", batch.total_rows)
            self.stdout.write(self.style.SUCCESS(f"已导入 {batch.created_count} 名学生（{school.name}）"))
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}（{exc.code}）", returncode=1) from exc

    @staticmethod
    def _finish_bar(bars: dict[str, ProgressBar], phase: str, total: int) -> None:
        bar = bars.get(phase)
        if bar is not None:
            bar.update(total, total, final=True)

    def _actor(self, school: School, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"找不到用户 {username}")
            return user
        ids = RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit=school.org).values_list(
            "user_id", flat=True
        )
        users = list(User.objects.filter(pk__in=ids, is_active=True)[:2])
        if len(users) != 1:
            raise CommandError("请用 --user 指定导入人（本校学籍管理员）")
        self.stdout.write(f"以 {users[0].username} 的身份导入")
        return users[0]

    def _report(self, batch: ImportBatch) -> None:
        self.stderr.write(f"共 {batch.error_count} 个问题，前 {min(SHOWN_PROBLEMS, len(batch.errors))} 个：")
        for problem in batch.errors[:SHOWN_PROBLEMS]:
            where = f"第 {problem['row']} 行" if problem.get("row") else "整个文件"
            column = f" {problem['column']}" if problem.get("column") else ""
            self.stderr.write(f"  {where}{column}：{problem['message']}")
