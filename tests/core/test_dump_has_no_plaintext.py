"""security.md acceptance test 20 / issue 11 §3: a plain dump of the database — ``pg_dump`` in plain SQL on
PostgreSQL, the database file itself on SQLite — holds none of the seeded students' ID numbers or phones (nor
those of their family members or of a bound guardian account), though every one of them reads back through the
application."""

from __future__ import annotations

import sqlite3
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from xueji.core import backups
from xueji.guardians.models import GuardianAccount
from xueji.students.models import Guardian, Person

STUDENTS = 300


def _dump(tmp_path: Path) -> bytes:
    if connection.vendor == "sqlite":
        target = tmp_path / "copy.sqlite3"
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        return target.read_bytes()
    owner = backups.pg_connection()
    try:
        env = backups._pg_env(owner.settings_dict, str(connection.settings_dict["NAME"]))
    finally:
        owner.close()
    done = subprocess.run(  # noqa: S603 - pg_dump with arguments built here
        [backups.pg_tool("pg_dump"), "--format=plain", "--data-only", "--no-owner"],
        env=env,
        capture_output=True,
        timeout=600,
        check=True,
    )
    return done.stdout


@pytest.mark.django_db(transaction=True)
def test_a_plain_dump_holds_no_id_number_or_phone(tmp_path: Any) -> None:
    out = StringIO()
    call_command("load_calendar", stdout=out)
    call_command("seed", students=STUDENTS, stdout=out)
    call_command("seed_guardian", stdout=out)
    for command in ("seed_dropouts", "seed_verification", "seed_checks"):
        call_command(command, stdout=out)
    ids = {p.id_number for p in Person.objects.all() if p.id_number}
    ids |= {g.id_number for g in Guardian.objects.all() if g.id_number}
    numbers = {p.student_number for p in Person.objects.all()}
    phones = {p.phone for p in Person.objects.all()} | {g.phone for g in Guardian.objects.all()}
    phones |= {a.phone for a in GuardianAccount.objects.all()}
    assert len(ids) >= STUDENTS * 0.9 and len(phones) >= STUDENTS
    assert all(n.startswith(("G", "J", "L")) for n in numbers)
    addresses = {p.home_address for p in Person.objects.all()} | {g.address for g in Guardian.objects.all()}
    addresses.discard("")
    dump = _dump(tmp_path).decode("utf-8", errors="replace")
    assert len(dump) > 100_000  # the dump holds the data (encrypted), not nothing
    # Each seeded value looked for as a substring (a number inside a longer run of digits is found too).
    assert not [n for n in ids if n in dump], "ID numbers in clear"
    assert not [p for p in phones if p in dump], "phone numbers in clear"
    assert not [n for n in numbers if n in dump], "学籍号 in clear"
    assert not [a for a in addresses if a in dump], "addresses in clear"
