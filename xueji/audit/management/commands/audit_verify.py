"""``manage.py audit_verify [--checkpoints export.json] [--no-record]`` — recompute the audit chain (issue 11 §2;
等保 8.1.4.3, security.md test 6): exit 0 when every link, every checkpoint and every settled event checks out,
exit 1 naming the first bad chain position (missing, modified, reordered, inserted, rewritten, truncated,
bad checkpoint, unchained). The result is itself an audit event (``audit.chain_verified`` /
``audit.chain_broken``, the latter for the early warning of 第23条) unless ``--no-record``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.audit.chain import parse_export, record_verification, verify_chain


class Command(BaseCommand):
    help = "校验审计链：重算哈希链并与已签名的检查点比对；发现问题时以状态 1 退出并指出第一个出错的链序号"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoints", type=Path, help="审计管理员保存的检查点导出文件（JSON），一并比对"
        )
        parser.add_argument("--no-record", action="store_true", help="不把校验结果写入审计记录")

    def handle(self, *args: Any, **options: Any) -> None:
        extra = []
        if options["checkpoints"]:
            try:
                extra = parse_export(json.loads(options["checkpoints"].read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"检查点文件无法读取：{exc}") from exc
        result = verify_chain(extra_checkpoints=extra)
        first = result.first
        if not options["no_record"]:
            record_verification(result)
        self.stdout.write(
            f"已校验 {result.checked} 个链节点，链头序号 {result.head.seq}，哈希 {result.head.hash}；"
            f"检查点 {result.checkpoints} 个"
        )
        if first is None:
            self.stdout.write("审计链完整")
            return
        for problem in sorted(result.problems, key=lambda p: (p.seq is None, p.seq or 0)):
            self.stdout.write(f"  {problem.kind}: {problem.describe()}")
        raise CommandError(f"审计链被破坏，第一个出错位置：{first.describe()}", returncode=1)
