"""``manage.py statistics_rebuild``: rebuild the statistics snapshot now (issue 10 §1) — what the nightly task
does; ``make run`` runs it after seeding so that 学籍统计 shows the demo at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from xueji.statistics.services import snapshot_rebuild


class Command(BaseCommand):
    help = "立即重建学籍统计快照（与每晚的后台任务相同）"

    def handle(self, *args: Any, **options: Any) -> None:
        rows = snapshot_rebuild()
        self.stdout.write(f"已重建学籍统计快照（{rows} 行）。")
