"""The file of an approved export (第24条; issue 11 §4): SM4-GCM encrypted at rest (0600, no plaintext on disk),
decrypted only for its requester within the expiry; every download audited; expired files deleted; a build
for a requester who lost the unit fails and leaves nothing."""

from __future__ import annotations

import io
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from tests.exports.conftest import CANARIES, ROSTER_FIELDS
from tests.exports.helpers import approve_and_build, download, request
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.models import RoleGrant
from xueji.audit.models import AuditEvent
from xueji.core.errors import Conflict, Forbidden, NotFound
from xueji.exports import crypto, services, tasks
from xueji.exports.enums import State
from xueji.exports.models import ExportRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(registrar_a, school_a, county_approver, pupils) -> ExportRequest:
    export, _key = approve_and_build(
        request(registrar_a, school_a.org, fields=ROSTER_FIELDS), county_approver
    )
    assert export.state == State.READY
    return export


def path_of(export: ExportRequest) -> Path:
    return Path(settings.VAR_DIR) / export.file_path


def test_file_encrypted_at_rest(ready: ExportRequest) -> None:
    path = path_of(ready)
    raw = path.read_bytes()
    assert raw.startswith(crypto.MAGIC) and b"PK\x03\x04" not in raw[:64]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, "tmp"]  # no plaintext beside it
    spill = path.parent / "tmp"  # openpyxl's spill files of the build: 0700, emptied
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700 and list(spill.iterdir()) == []
    assert all(c.encode() not in raw for c in CANARIES)
    assert download(ready).startswith(b"PK\x03\x04")
    event = AuditEvent.objects.get(event_type="export.built")
    assert event.after["count"] == 11 and event.subject_id == str(ready.pk)


def test_tampered_file_or_swapped_key_does_not_open(ready, registrar_a, school_a, county_approver) -> None:
    other, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    ExportRequest.objects.filter(pk=ready.pk).update(wrapped_key=other.wrapped_key)
    ready.refresh_from_db()
    with pytest.raises(crypto.DecryptionFailed):
        download(ready)
    ExportRequest.objects.filter(pk=other.pk).update(file_path=ready.file_path)
    other.refresh_from_db()
    with pytest.raises(crypto.DecryptionFailed):
        download(other)  # the right key for another export's file: the associated data differs
    path = path_of(other)
    other.refresh_from_db()
    data = bytearray(Path(settings.VAR_DIR, ExportRequest.objects.get(pk=other.pk).file_path).read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_file(path, io.BytesIO(), crypto.new_file_key(), b"x")
    path.write_bytes(b"short")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_file(path, io.BytesIO(), crypto.new_file_key(), b"x")
    path.write_bytes(b"NOTXJE" + bytes(40))
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_file(path, io.BytesIO(), crypto.new_file_key(), b"x")
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()


def test_every_download_is_audited(ready: ExportRequest, registrar_a) -> None:
    download(ready)
    download(ready)
    events = AuditEvent.objects.filter(event_type="export.downloaded", subject_id=str(ready.pk))
    assert events.count() == 2 and {e.actor_id for e in events} == {registrar_a.pk}
    ready.refresh_from_db()
    assert ready.download_count == 2


def test_download_by_someone_else_is_404(ready, county_approver, registrar_b, client) -> None:
    for other in (county_approver, registrar_b):
        with pytest.raises(NotFound):
            services.export_download(actor=other, export=ready, second_factor=True)
        client.force_login(other)
        assert client.get(f"/exports/{ready.pk}/file/").status_code == 404
        assert client.get(f"/api/v1/exports/{ready.pk}/file").status_code == 404
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()


@pytest.mark.mfa
def test_download_needs_a_verified_second_factor(ready: ExportRequest, registrar_a) -> None:
    with pytest.raises(Forbidden) as exc:
        services.export_download(actor=registrar_a, export=ready, second_factor=False)
    assert exc.value.code == "second_factor_required"
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()


def test_download_after_expiry_is_refused_and_the_file_deleted(ready: ExportRequest, registrar_a) -> None:
    assert ready.expires_at is not None
    assert ready.expires_at <= timezone.now() + timedelta(hours=72, minutes=1)
    ExportRequest.objects.filter(pk=ready.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    ready.refresh_from_db()
    with pytest.raises(services.Gone) as exc:
        download(ready)
    assert exc.value.status == 410
    path = path_of(ready)
    assert path.exists()
    call_command("exports_expire", stdout=io.StringIO())
    ready.refresh_from_db()
    assert ready.state == State.EXPIRED and ready.wrapped_key is None and not path.exists()
    assert AuditEvent.objects.filter(event_type="export.expired", subject_id=str(ready.pk)).count() == 1
    with pytest.raises(services.Gone):
        download(ready)
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()


def test_expiry_follows_the_period(registrar_a, school_a, county_approver, settings) -> None:
    settings.XUEJI_EXPORT_FILE_HOURS = 24 * 30
    today = timezone.localdate()
    export = request(registrar_a, school_a.org, period_end=today + timedelta(days=2))
    export, _key = approve_and_build(export, county_approver)
    assert timezone.localtime(export.expires_at).date() == today + timedelta(days=3)


def test_expire_marks_stale_requests_and_removes_stray_files(registrar_a, school_a, county_approver) -> None:
    waiting = request(registrar_a, school_a.org)
    ExportRequest.objects.filter(pk=waiting.pk).update(
        period_start=timezone.localdate() - timedelta(days=5),
        period_end=timezone.localdate() - timedelta(days=1),
    )
    directory = services.exports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stray = directory / "leftover.plain"
    stray.write_bytes(b"x")
    assert tasks.expire_exports.call() == 1
    waiting.refresh_from_db()
    assert waiting.state == State.EXPIRED and not stray.exists()


def test_download_before_ready_conflicts(registrar_a, school_a, county_approver) -> None:
    export = request(registrar_a, school_a.org)
    with pytest.raises(Conflict):
        services.export_download(actor=registrar_a, export=export, second_factor=True)


def test_build_fails_cleanly_when_the_requester_lost_the_unit(registrar_a, school_a, county_approver) -> None:
    export = request(registrar_a, school_a.org)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    RoleGrant.objects.filter(user=registrar_a).delete()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    export.refresh_from_db()
    assert export.state == State.FAILED and export.pseudonym_key is None and not export.file_path
    assert "无权" in export.message
    assert not any(services.exports_dir().iterdir())
    assert AuditEvent.objects.filter(event_type="export.build_failed").count() == 1
    assert services.export_build(export_id=export.pk) is None  # not waiting any more


def test_build_after_the_period_fails(registrar_a, school_a, county_approver) -> None:
    export = request(registrar_a, school_a.org)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    ExportRequest.objects.filter(pk=export.pk).update(
        period_start=timezone.localdate() - timedelta(days=5),
        period_end=timezone.localdate() - timedelta(days=1),
    )
    run_queued_tasks()
    export.refresh_from_db()
    assert export.state == State.FAILED


def test_configured_export_key(settings, ready: ExportRequest) -> None:
    """XUEJI_EXPORT_KEY replaces the key derived from SECRET_KEY: files wrapped under the other key no longer
    open (the KEK really is the configured one)."""
    before = crypto.kek()
    settings.XUEJI_EXPORT_KEY = "a configured export key of the deployment"
    assert crypto.kek() != before and len(crypto.kek()) == 16
    with pytest.raises(crypto.DecryptionFailed):
        download(ready)
