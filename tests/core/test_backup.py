"""Backups and verified restores round-trip (issue #6 §4; 等保 8.1.4.10).

SQLite: the suite's database (committed: transactional tests) is backed up with the online backup API and
restored into a temporary file.
PostgreSQL: ``pg_dump``/``pg_restore`` into a scratch database ``xueji_restore_<random>``, dropped afterwards.
Both compare the row count of every table and the last audit event with the live database.
"""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core import backups


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _backup(directory: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    out = io.StringIO()
    call_command("backup", "--output-dir", str(directory), "--timeout", "120", stdout=out)
    dumps = [p for p in directory.iterdir() if not p.name.endswith(backups.MANIFEST_SUFFIX)]
    assert len(dumps) == 1
    assert f"备份完成：{dumps[0]}" in out.getvalue()
    return dumps[0], json.loads(backups.manifest_path(dumps[0]).read_text(encoding="utf-8"))


def _live() -> backups.Snapshot:
    with connection.cursor() as cursor:
        return backups.take_snapshot(cursor, connection.vendor)


def _data() -> int:
    school = f.school("440105", "primary", name="海珠区第一小学")
    f.registrar(school, username="reg_backup")
    record(event_type=EventType.LOGIN, actor=None, summary="第一条")
    return record(event_type=EventType.LOGIN, actor=None, summary="最后一条").pk


@pytest.fixture
def sqlite_only():  # type: ignore[no-untyped-def]
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite leg")


@pytest.mark.django_db(transaction=True)
def test_sqlite_backup_and_restore_round_trip(sqlite_only, tree, tmp_path):
    last = _data()
    live = _live()
    dump, manifest = _backup(tmp_path / "backups")

    assert (_mode(tmp_path / "backups"), _mode(dump), _mode(backups.manifest_path(dump))) == (
        0o700,
        0o600,
        0o600,
    )
    assert manifest["vendor"] == "sqlite"
    assert manifest["sha256"] == backups.sha256_of(dump)
    assert manifest["tables"] == live.tables
    assert manifest["tables"]["audit_auditevent"] >= 2
    assert manifest["last_audit_event"] == live.last_audit_event
    assert manifest["last_audit_event"]["id"] == last

    target = tmp_path / "restored" / "xueji.sqlite3"
    out = io.StringIO()
    call_command("restore", str(dump), "--yes", "--target", str(target), stdout=out)
    restored = sqlite3.connect(target)
    try:
        snapshot = backups.take_snapshot(restored.cursor(), "sqlite")
    finally:
        restored.close()
    assert snapshot.tables == live.tables
    assert snapshot.last_audit_event == live.last_audit_event
    assert _mode(target) == 0o600
    assert out.getvalue().startswith(f"恢复完成并已核对：{target}，{len(live.tables)} 张表")


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_dump_that_does_not_match_its_manifest(sqlite_only, tree, tmp_path):
    _data()
    dump, _ = _backup(tmp_path / "backups")
    with dump.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00tampered\x00")
    target = tmp_path / "restored.sqlite3"
    with pytest.raises(CommandError, match="SHA-256 校验和与清单不符"):
        call_command("restore", str(dump), "--yes", "--target", str(target))
    assert not target.exists()


@pytest.mark.django_db(transaction=True)
def test_restore_needs_a_manifest_and_a_confirmation(sqlite_only, tree, tmp_path):
    _data()
    dump, _ = _backup(tmp_path / "backups")
    target = tmp_path / "restored.sqlite3"
    with pytest.raises(CommandError, match="请加 --yes 确认"):
        call_command("restore", str(dump), "--target", str(target))
    backups.manifest_path(dump).unlink()
    with pytest.raises(CommandError, match="缺少清单文件"):
        call_command("restore", str(dump), "--yes", "--target", str(target))
    assert not target.exists()


@pytest.mark.django_db(transaction=True)
def test_restore_reports_a_restored_database_that_differs_from_the_manifest(sqlite_only, tree, tmp_path):
    _data()
    dump, manifest = _backup(tmp_path / "backups")
    manifest["tables"]["audit_auditevent"] += 1
    manifest["last_audit_event"]["id"] += 1
    path = backups.manifest_path(dump)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("restore", str(dump), "--yes", "--target", str(tmp_path / "restored.sqlite3"))
    message = str(exc.value)
    assert message.startswith("恢复后核对不一致：\n表 audit_auditevent：备份时 ")
    assert "最后一条审计事件不一致" in message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgresql_backup_and_restore_round_trip(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL leg (run with DATABASE_URL=postgres://…)")
    f.departments(("440000",))
    last = _data()
    live = _live()
    dump, manifest = _backup(tmp_path / "backups")
    assert (_mode(tmp_path / "backups"), _mode(dump), _mode(backups.manifest_path(dump))) == (
        0o700,
        0o600,
        0o600,
    )
    assert manifest["vendor"] == "postgresql"
    assert manifest["tables"] == live.tables
    assert manifest["last_audit_event"] == live.last_audit_event
    assert manifest["last_audit_event"]["id"] == last

    scratch = f"xueji_restore_{uuid.uuid4().hex[:12]}"
    owner = backups.pg_connection()
    try:
        with owner.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{scratch}"')
        out = io.StringIO()
        call_command("restore", str(dump), "--yes", "--target", scratch, "--timeout", "120", stdout=out)
        restored = backups.pg_connection(database=scratch)
        try:
            with restored.cursor() as cursor:
                snapshot = backups.take_snapshot(cursor, "postgresql")
                cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_no_truncate'")
                assert cursor.fetchone()[0] == 1
        finally:
            restored.close()
        assert snapshot.tables == live.tables
        assert snapshot.last_audit_event == live.last_audit_event
        assert out.getvalue().startswith(f"恢复完成并已核对：{scratch}，{len(live.tables)} 张表")
    finally:
        with owner.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        owner.close()


@pytest.mark.django_db
def test_sqlite_backup_refuses_inside_a_transaction_instead_of_waiting_forever(sqlite_only, tmp_path):
    """The online backup would wait for this connection's own write lock (and miss its uncommitted rows)."""
    with pytest.raises(CommandError, match="不能在事务中备份"):
        call_command("backup", "--output-dir", str(tmp_path / "backups"))
    assert list((tmp_path / "backups").iterdir()) == []  # no half-written dump left behind
