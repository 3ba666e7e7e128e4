"""``manage.py data_keys``: the data keys of the encrypted columns (issue 11 §3, :mod:`xueji.core.fieldcrypto`).

- ``status`` — every encrypted column, its key versions and how many rows are not yet under the active one;
- ``rotate [COLUMN …] [--batch N]`` — a new key version per column, rows re-encrypted in batches (one transaction
  per batch: the system keeps running); the old version stays readable (``retiring``);
- ``retire [COLUMN …] [--grace S]`` — after the grace period (other processes may have written under the old
  version meanwhile, a long transaction may still commit such values): re-encrypt what is left, then erase the
  old versions no row uses;
- ``encrypt`` — after an upgrade: encrypt what is still in clear and fill blind indexes and flags;
- ``rewrap --new-master-key-file FILE`` — wrap every data key under a new master key (then point
  ``XUEJI_MASTER_KEY_FILE`` at it); the data is not touched;
- ``new-master-key FILE`` — write a fresh random master key (32 hex digits) to FILE, mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.core import fieldcrypto
from xueji.core.models import DataKey


class Command(BaseCommand):
    help = "加密列的数据密钥：查看状态、轮换（分批重加密，不停机）、升级后加密存量数据、更换主密钥。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action", choices=["status", "rotate", "retire", "encrypt", "rewrap", "new-master-key"]
        )
        parser.add_argument("columns", nargs="*", help="加密列（如 students_person.id_number），默认全部")
        parser.add_argument("--batch", type=int, default=1000, help="每批重加密的行数（每批一个事务）")
        parser.add_argument("--new-master-key-file", default="", help="rewrap：新主密钥文件")
        parser.add_argument(
            "--if-needed", action="store_true", help="encrypt：仅当存在升级前的明文数据时执行"
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="retire：旧版本至少轮换多少秒后才可停用（默认 XUEJI_KEY_RETIRE_GRACE_SECONDS，3600）",
        )

    def _columns(self, given: list[str]) -> list[str]:
        known = sorted(fieldcrypto.key_name(f) for f in fieldcrypto.encrypted_fields())
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise CommandError(f"未知的加密列：{'、'.join(unknown)}（可用：{'、'.join(known)}）")
        return given or known

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "new-master-key":
            if len(options["columns"]) != 1:
                raise CommandError("用法：data_keys new-master-key FILE")
            path = options["columns"][0]
            if Path(path).exists():
                raise CommandError(f"{path} 已存在，不覆盖")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(os.urandom(fieldcrypto.KEY_BYTES).hex() + "\n")
            self.stdout.write(f"已生成主密钥：{path}（0600）")
            return
        if action == "rewrap":
            path = options["new_master_key_file"]
            if not path or not Path(path).is_file():
                raise CommandError("rewrap 需要 --new-master-key-file 指向已存在的新主密钥文件")
            count = fieldcrypto.rewrap(fieldcrypto.FileMasterKeyWrapper(path))
            self.stdout.write(
                f"已用新主密钥重新封装 {count} 个数据密钥；请将 XUEJI_MASTER_KEY_FILE 指向 {path} 后重启。"
            )
            return
        if action == "encrypt":
            if options["if_needed"] and not fieldcrypto.needs_upgrade():
                return
            done = fieldcrypto.encrypt_existing(batch=options["batch"])
            for name, count in done.items():
                self.stdout.write(f"{name}: 写入 {count} 行")
            return
        for name in self._columns(options["columns"]):
            if action == "status":
                versions = ", ".join(
                    f"v{k.version} {k.state}" for k in DataKey.objects.filter(name=name).order_by("version")
                )
                self.stdout.write(f"{name}: {versions}")
            elif action == "rotate":
                out = fieldcrypto.rotate(name, batch=options["batch"])
                self.stdout.write(
                    f"{name}: 新版本 v{out['version']}，重加密 {out['rewritten']} 行，旧版本仍有 {out['left']} 行；"
                    f"旧版本满宽限期（{fieldcrypto.retire_grace():.0f} 秒）后运行 retire 停用"
                )
            else:
                left = fieldcrypto.retire(name, batch=options["batch"], grace=options["grace"])
                waiting = DataKey.objects.filter(name=name, state=DataKey.State.RETIRING).exists()
                outcome = "旧版本未满宽限期，暂不停用" if waiting else "旧版本已停用"
                self.stdout.write(f"{name}: " + (f"仍有 {left} 行使用旧版本" if left else outcome))
