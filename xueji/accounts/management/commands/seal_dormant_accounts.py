"""第24条: seal accounts unused for more than ACCOUNT_DORMANCY_DAYS (default 180). Run daily (cron/systemd)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from xueji.accounts.services import seal_dormant


class Command(BaseCommand):
    help = "封存半年以上未登录的账号（第二十四条）；每天由定时任务运行。"

    def handle(self, *args: Any, **options: Any) -> None:
        count = seal_dormant(actor=None, now=timezone.now())
        self.stdout.write(f"已封存 {count} 个账号")
