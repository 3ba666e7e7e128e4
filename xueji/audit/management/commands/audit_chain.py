"""``manage.py audit_chain [--limit N]`` — run the audit-chain sequencer now (it also runs every minute from
``XUEJI_SCHEDULE``: ``xueji.audit.tasks.chain_events``; issue 11 §2)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from xueji.audit.chain import chain_pending


class Command(BaseCommand):
    help = "审计链定序：为已提交但尚未入链的审计事件依次计算 SM3 链哈希，到期时签发检查点"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="本次最多入链的事件数")

    def handle(self, *args: Any, **options: Any) -> None:
        run = chain_pending(limit=options["limit"])
        if run.busy:
            self.stdout.write("另一个定序进程正在运行，本次未处理")
            return
        self.stdout.write(
            f"入链 {run.chained} 个事件，链头序号 {run.head.seq}，哈希 {run.head.hash}；新检查点 {run.checkpoints} 个"
        )
