"""``manage.py exports_expire``: delete the files of approved exports past their expiry (第24条)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from xueji.exports.services import exports_expire


class Command(BaseCommand):
    help = "删除已过期的数据导出文件并将申请标为已过期"

    def handle(self, *args: Any, **options: Any) -> None:
        count = exports_expire()
        self.stdout.write(f"expired {count}")
