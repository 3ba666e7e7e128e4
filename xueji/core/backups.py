"""Backups and verified restores of the database (issue #6 §4; 等保 8.1.4.10 data backup and recovery).

``backup`` writes one dump and a manifest next to it:

* SQLite: the online backup API (``sqlite3.Connection.backup``), consistent while the application writes;
* PostgreSQL: ``pg_dump --format=custom`` on an exported snapshot, so the manifest's counts describe exactly
  the dumped data.

The manifest holds the row count of every table, the last audit event (id, time and a SHA-256 fingerprint of
its content) and the SHA-256 of the dump file. ``restore`` refuses a dump whose checksum does not match its
manifest, restores, and compares the restored database with the manifest.

Backups hold personal data (第24条, security.md): files are created 0600 in a 0700 directory; they must be
encrypted at rest and when copied off-site (issue #11). No domain code here: the audit trail's table is the one
the audit app registers in :mod:`xueji.core.appendonly`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from xueji.core import appendonly, dbroles

MANIFEST_FORMAT = "xueji-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
DIR_MODE = 0o700
FILE_MODE = 0o600
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that must stop; the message (Chinese) says why."""


@dataclass
class Snapshot:
    """What a database holds, as far as a restore check is concerned."""

    tables: dict[str, int] = field(default_factory=dict)
    last_audit_event: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "last_audit_event": self.last_audit_event}


def audit_table() -> str | None:
    """The audit trail's table, as registered by the audit app (``None`` without one)."""
    return appendonly.trail_table()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def _private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 (refusing to reuse an existing file)."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    return path


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fingerprint(row: tuple[Any, ...]) -> str:
    text = json.dumps([str(value) for value in row], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def take_snapshot(cursor: Any, vendor: str) -> Snapshot:
    """Row counts of every table and the last audit event, through a DB-API cursor of either vendor."""
    if vendor == "postgresql":
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    names = [row[0] for row in cursor.fetchall()]
    snapshot = Snapshot()
    for name in names:
        cursor.execute(f"SELECT count(*) FROM {_quote(name)}")  # noqa: S608 - names from the catalogue
        snapshot.tables[name] = int(cursor.fetchone()[0])
    audit = audit_table()
    if audit is not None and audit in snapshot.tables:
        cursor.execute(
            "SELECT id, occurred_at, event_type, actor_username, subject_type, subject_id, summary "  # noqa: S608
            f"FROM {_quote(audit)} ORDER BY id DESC LIMIT 1"
        )
        row = cursor.fetchone()
        if row is not None:
            snapshot.last_audit_event = {
                "id": row[0],
                "occurred_at": str(row[1]),
                "sha256": _fingerprint(row),
            }
    return snapshot


def compare(manifest: dict[str, Any], restored: Snapshot) -> list[str]:
    """Differences between the manifest and a restored database (empty → verified), in Chinese."""
    problems = []
    expected: dict[str, int] = manifest["tables"]
    for name in sorted(set(expected) | set(restored.tables)):
        want, got = expected.get(name), restored.tables.get(name)
        if want != got:
            problems.append(
                f"表 {name}：备份时 {want if want is not None else '无此表'} 行，恢复后 "
                f"{got if got is not None else '无此表'} 行"
            )
    if manifest.get("last_audit_event") != restored.last_audit_event:
        problems.append(
            f"最后一条审计事件不一致：备份时 {manifest.get('last_audit_event')}，恢复后 {restored.last_audit_event}"
        )
    return problems


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def _finish(dump: Path, vendor: str, database: str, snapshot: Snapshot, started: datetime) -> Path:
    manifest = {
        "format": MANIFEST_FORMAT,
        "vendor": vendor,
        "database": database,
        "file": dump.name,
        "size": dump.stat().st_size,
        "sha256": sha256_of(dump),
        "created_at": started.isoformat(),
        **snapshot.as_dict(),
    }
    path = manifest_path(dump)
    _write_private(path, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return path


# --- backup ---------------------------------------------------------------------------------------------------


def backup(directory: Path, *, alias: str = "default", timeout: int = 3600) -> tuple[Path, Path]:
    """Dump the ``alias`` database into ``directory`` (created 0700); returns (dump, manifest)."""
    connection = connections[alias]
    started = datetime.now(UTC)
    _private_dir(directory)
    if connection.vendor not in {"sqlite", "postgresql"}:  # pragma: no cover - the product runs on these two
        raise BackupError(f"不支持的数据库：{connection.vendor}")
    suffix = "sqlite3" if connection.vendor == "sqlite" else "pgdump"
    dump = _private_file(directory / f"xueji-{_stamp(started)}.{suffix}")
    try:
        if connection.vendor == "sqlite":
            snapshot = _backup_sqlite(connection, dump)
        else:
            snapshot = _backup_postgresql(alias, dump, timeout=timeout)
    except BaseException:
        dump.unlink(missing_ok=True)  # no half-written dump that looks like a backup
        raise
    return dump, _finish(dump, connection.vendor, str(connection.settings_dict["NAME"]), snapshot, started)


def _backup_sqlite(connection: BaseDatabaseWrapper, dump: Path) -> Snapshot:
    if connection.in_atomic_block:
        # The copy would wait forever for this connection's own write lock (and miss uncommitted work).
        raise BackupError("不能在事务中备份：请在事务之外运行")
    connection.ensure_connection()
    target = sqlite3.connect(dump)
    try:
        connection.connection.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (no -wal beside it)
        # The counts come from the copy itself: what was written is what the manifest describes.
        return take_snapshot(target.cursor(), "sqlite")
    finally:
        target.close()


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: on PATH (Debian's wrapper picks the server's version) or under
    /usr/lib/postgresql/<version>/bin, newest first."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3], reverse=True
    )
    if not candidates:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（postgresql-client）")
    return str(candidates[0])


def _pg_env(settings_dict: dict[str, Any], database: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": database,
    }
    env.update({key: str(value) for key, value in values.items() if value})
    return env


def _run(command: list[str], env: dict[str, str], timeout: int) -> None:
    try:
        # The command is pg_dump/pg_restore with arguments built here; no shell.
        result = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{Path(command[0]).name} 超时（{timeout} 秒）") from exc
    if result.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} 失败（退出码 {result.returncode}）：{result.stderr.strip()[-2000:]}"
        )


def pg_connection(alias: str = "default", database: str | None = None) -> BaseDatabaseWrapper:
    """A separate connection as the owner role to ``database`` (default: the alias's database)."""
    connection = dbroles.owner_connection(alias)
    if database:
        connection.settings_dict["NAME"] = database
    return connection


def _backup_postgresql(alias: str, dump: Path, *, timeout: int) -> Snapshot:
    connection = pg_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot_id,) = cursor.fetchone()
            snapshot = take_snapshot(cursor, "postgresql")
            # pg_dump reads the same snapshot while this transaction stays open.
            command = [pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_id}", f"--file={dump}"]
            _run(command, _pg_env(connection.settings_dict, str(connection.settings_dict["NAME"])), timeout)
            cursor.execute("COMMIT")
        return snapshot
    finally:
        connection.close()


# --- restore --------------------------------------------------------------------------------------------------


def read_manifest(dump: Path) -> dict[str, Any]:
    """The dump's manifest, after checking that the dump is the one the manifest describes."""
    path = manifest_path(dump)
    if not dump.is_file():
        raise BackupError(f"备份文件不存在：{dump}")
    if not path.is_file():
        raise BackupError(f"缺少清单文件 {path.name}：无法校验备份，拒绝恢复")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"清单格式不是 {MANIFEST_FORMAT}，拒绝恢复")
    if sha256_of(dump) != manifest.get("sha256"):
        raise BackupError("备份文件的 SHA-256 校验和与清单不符（文件已损坏或被改动），拒绝恢复")
    return manifest


@dataclass
class RestoreResult:
    target: str
    snapshot: Snapshot
    problems: list[str]


def restore(
    dump: Path, *, alias: str = "default", target: str | None = None, timeout: int = 3600
) -> RestoreResult:
    """Restore ``dump`` into ``target`` (SQLite: a file path; PostgreSQL: a database on the same server;
    default: the configured database) and compare the result with the manifest."""
    manifest = read_manifest(dump)
    connection = connections[alias]
    if manifest["vendor"] != connection.vendor:
        raise BackupError(f"备份来自 {manifest['vendor']}，当前数据库是 {connection.vendor}，拒绝恢复")
    if connection.vendor == "sqlite":
        path = Path(target or str(connection.settings_dict["NAME"]))
        snapshot = _restore_sqlite(dump, path, configured=path == Path(str(connection.settings_dict["NAME"])))
        name = str(path)
    else:
        name = target or str(connection.settings_dict["NAME"])
        snapshot = _restore_postgresql(dump, alias, name, timeout=timeout)
    return RestoreResult(target=name, snapshot=snapshot, problems=compare(manifest, snapshot))


def _restore_sqlite(dump: Path, path: Path, *, configured: bool) -> Snapshot:
    if configured:
        connections.close_all()
    if not path.exists():
        if not path.parent.exists():
            _private_dir(path.parent)
        _private_file(path)
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
        return take_snapshot(target.cursor(), "sqlite")
    finally:
        target.close()
        source.close()


def _restore_postgresql(dump: Path, alias: str, database: str, *, timeout: int) -> Snapshot:
    if database == str(connections[alias].settings_dict["NAME"]):
        connections[alias].close()
    connection = pg_connection(alias, database)
    try:
        command = [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={database}",
            str(dump),
        ]
        _run(command, _pg_env(connection.settings_dict, database), timeout)
        dbroles.ensure_append_only_triggers(connection)
        dbroles.apply_grants(connection)
        with connection.cursor() as cursor:
            return take_snapshot(cursor, "postgresql")
    finally:
        connection.close()
