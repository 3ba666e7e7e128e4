"""Clean-up of attachment files left on disk without a database row (a rolled-back transaction)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.changes.tasks import purge_orphan_attachments
from xueji.students.models import ArchiveDocument
from xueji.students.records import archive_attach

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n" + b"0" * 100
LONG_AGO = 1_000_000_000  # 2001


class RolledBack(Exception):
    pass


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def attach_then_roll_back(registrar, enrollment) -> Path:
    """Save an attachment inside a transaction that then rolls back: the file stays, the row does not."""
    with pytest.raises(RolledBack), transaction.atomic():
        doc = archive_attach(
            actor=registrar, enrollment=enrollment, kind="identity", title="户口簿", data=PDF
        )
        path = Path(doc.file.path)
        raise RolledBack
    assert path.exists() and not ArchiveDocument.objects.filter(pk=doc.pk).exists()
    return path


@override_settings(XUEJI_ORPHAN_FILE_GRACE_HOURS=24)
def test_orphan_files_older_than_the_grace_period_are_removed_and_kept_files_stay(school_a):
    registrar = f.registrar(school_a)
    enrollment = c.enrolled(school_a, registrar=registrar)
    kept = archive_attach(actor=registrar, enrollment=enrollment, kind="identity", title="身份证", data=PDF)
    old_orphan = attach_then_roll_back(registrar, enrollment)
    new_orphan = attach_then_roll_back(registrar, enrollment)
    for path in (Path(kept.file.path), old_orphan):
        os.utime(path, (LONG_AGO, LONG_AGO))

    purge_orphan_attachments.enqueue()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert (Path(kept.file.path).exists(), old_orphan.exists(), new_orphan.exists()) == (True, False, True)
    assert purge_orphan_attachments.call() == 0
