"""``manage.py audit_checkpoint`` — sign the audit-chain head now (Ed25519 + SM2; issue 11 §2), after chaining
what is pending. ``--generate-keys`` creates the signing keys in ``AUDIT_CHAIN_KEY_DIR`` (mode 0600, never
overwritten), ``--rotate-keys`` retires them (public parts kept for verification) and creates new ones,
``--export FILE`` writes every checkpoint with its statement, signatures and public keys (what the audit
administrator keeps outside the system)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.audit import signing
from xueji.audit.chain import chain_pending, export_checkpoints, make_checkpoint


class Command(BaseCommand):
    help = "签发审计链检查点（Ed25519 与 SM2 双签名）；可生成或轮换签名密钥、导出检查点"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--generate-keys", action="store_true", help="生成缺少的签名密钥（不覆盖已有密钥）"
        )
        parser.add_argument("--rotate-keys", action="store_true", help="轮换签名密钥（旧公钥保留用于校验）")
        parser.add_argument("--export", type=Path, help="把全部检查点导出到此 JSON 文件")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["generate_keys"]:
                created = signing.generate_files()
                self.stdout.write(
                    f"签名密钥目录 {signing.key_dir()}：新建 {', '.join(created) or '无（已存在）'}"
                )
            if options["rotate_keys"]:
                created = signing.rotate_files()
                self.stdout.write(f"已轮换签名密钥：{', '.join(created)}")
            if options["export"]:
                data = export_checkpoints()
                options["export"].write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
                self.stdout.write(f"已导出 {len(data['checkpoints'])} 个检查点到 {options['export']}")
                return
            chain_pending(checkpoints=False)
            checkpoint = make_checkpoint()
        except signing.SigningKeyError as exc:
            raise CommandError(exc.message) from exc
        if checkpoint is None:
            self.stdout.write("链头已有检查点（或审计链为空），未签发新检查点")
        else:
            self.stdout.write(f"已签发检查点：链序号 {checkpoint.seq}，链头哈希 {checkpoint.head}")
