"""The offline verifier (no Django, no database) agrees with the online check; the management commands; the
file key store (0600 files in the configured directory, never in the database); batch issuing on the queue."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.certificates.conftest import graduate
from tests.factories import changes as c
from tests.factories.tasks import run_queued_tasks
from xueji.certificates import presenters, services
from xueji.certificates.enums import BatchState
from xueji.certificates.keystore import FileKeyStore, KeyStoreError
from xueji.certificates.models import Certificate, CertificateBatch, IssuerKey

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> tuple[int, dict]:
    """``python -m xueji.certificates.verifier`` in a fresh interpreter with Django made unimportable."""
    code = (
        "import sys; sys.modules['django'] = None; "  # any Django import would now fail
        "from xueji.certificates.verifier import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603 — our own interpreter and arguments
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == "", done.stderr
    return done.returncode, json.loads(done.stdout)


def test_offline_verifier_agrees_with_the_online_check(env, graduated, tmp_path):
    cert = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    keys = tmp_path / "keys.json"
    call_command("certificate_keys", "export", "--output", str(keys))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(cert.credential, ensure_ascii=False), encoding="utf-8")
    forged = dict(cert.credential, name="伪造证书")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(presenters.certificate_pdf(cert))
    qr = presenters.qr_text(cert)

    status, out = _cli(str(good), "--keys", str(keys))
    assert (status, out["result"]) == (0, "valid")
    status, out = _cli(str(good), "--keys", str(keys), "--qr", qr)
    assert (status, out["result"], out["status_checked"]) == (0, "valid", True)
    assert services.verify_online(cert.credential).result == "valid"
    status, out = _cli(str(pdf), "--keys", str(keys))  # the credential attached to the PDF
    assert (status, out["result"]) == (0, "valid")
    status, out = _cli(str(bad), "--keys", str(keys))
    assert (status, out["result"]) == (1, services.verify_online(forged).result) == (1, "bad-signature")

    services.certificate_revoke(actor=env["county"], certificate=cert, reason="信息有误")
    call_command("certificate_keys", "export", "--output", str(keys))  # the new signed status list
    status, out = _cli(str(good), "--keys", str(keys))
    assert (status, out["result"]) == (1, "revoked") and services.verify_online(
        cert.credential
    ).result == "revoked"


def test_verify_certificate_command(env, graduated, tmp_path, capsys):
    cert = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cert.credential), encoding="utf-8")
    call_command("verify_certificate", str(path), "--qr", presenters.qr_text(cert))
    assert json.loads(capsys.readouterr().out)["result"] == "valid"
    path.write_text(json.dumps(dict(cert.credential, validFrom="2020-01-01T00:00:00Z")), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_certificate", str(path))
    assert exit_.value.code == 1
    assert json.loads(capsys.readouterr().out)["result"] in {"bad-signature", "unknown-issuer"}


def test_private_keys_live_in_0600_files_never_in_the_database(env, _cert_settings):
    key_dir = _cert_settings
    path = key_dir / "440000-k1.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    private = json.loads(path.read_text())["ed25519"]
    key = IssuerKey.objects.get(kid="440000-k1")
    assert private not in json.dumps([key.ed25519_public, key.sm2_public])
    from django.db import connection

    for table in ("certificates_issuerkey", "certificates_statuslist"):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 — fixed table names
            assert private not in repr(cursor.fetchall())
    store = FileKeyStore(key_dir)
    assert store.public_keys("440000-k1").ed25519 == key.ed25519_public
    with pytest.raises(KeyStoreError):
        store.generate("440000-k1")  # never overwritten
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="readable by others"):
        store.sign("440000-k1", "eddsa-jcs-2022", b"x")


def test_certificate_keys_command_create_rotate_list(tree, capsys):
    call_command("certificate_keys", "create", "--province", "110000")
    call_command("certificate_keys", "rotate", "--province", "110000")
    call_command("certificate_keys", "list", "--province", "110000")
    out = capsys.readouterr().out
    assert "110000-k1" in out and "110000-k2" in out and "current" in out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("certificate_keys", "create", "--province", "110000")


def test_batch_issues_a_cohort_on_the_queue_with_progress(env):
    """A graduating cohort: queued, run by the worker, progress done/total; students already holding a live
    certificate are not queued again."""
    from xueji.certificates import tasks

    students = [graduate(env, c.enrolled(env["primary"], grade=6)) for _ in range(3)]
    services.certificate_issue(actor=env["county"], person_id=students[0].person_id, kind="graduation")
    batch = tasks.start_batch(actor=env["county"], school=env["primary"], kind="graduation")
    assert (batch.state, batch.total, batch.done) == (BatchState.QUEUED, 2, 0)
    assert batch.task_id
    assert run_queued_tasks() == ["SUCCESSFUL"]
    batch.refresh_from_db()
    assert (batch.state, batch.done, batch.issued, batch.skipped, batch.percent) == ("done", 2, 2, 0, 100)
    assert Certificate.objects.filter(batch=batch).count() == 2
    assert all(services.verify_online(x.credential).result == "valid" for x in Certificate.objects.all())
    from xueji.core.errors import FieldError

    with pytest.raises(FieldError):  # nothing left to issue
        tasks.start_batch(actor=env["county"], school=env["primary"], kind="graduation")
    assert CertificateBatch.objects.count() == 1


def test_batch_page_shows_progress_and_is_scoped(env):
    from tests.factories import accounts as fa
    from xueji.certificates import tasks

    graduate(env, c.enrolled(env["primary"], grade=6))
    batch = tasks.start_batch(actor=env["county"], school=env["primary"], kind="graduation")
    county = fa.client()
    fa.web_login(county, env["county"].username)
    page = county.get(f"/certificates/batches/{batch.pk}/")
    assert page.status_code == 200 and 'data-state="queued"' in page.content.decode()
    assert "hx-trigger" in page.content.decode()
    run_queued_tasks()
    fragment = county.get(f"/certificates/batches/{batch.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="done"' in fragment and "hx-trigger" not in fragment
    other = fa.client()
    fa.web_login(other, env["county_other"].username)
    assert other.get(f"/certificates/batches/{batch.pk}/").status_code == 404


def test_status_lists_are_re_signed_by_the_scheduled_task(env, graduated):
    """The list credential is valid 7 days; the daily task re-signs it (still verifying, validUntil moved); an
    offline key set whose list has lapsed fails closed: never valid, the detail says to export a fresh one."""
    from datetime import timedelta

    from django.utils import timezone

    from xueji.certificates import tasks, verifier
    from xueji.certificates.models import StatusList

    cert = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    before = StatusList.objects.get().credential["validUntil"]
    stale_keys = verifier.KeySet(services.key_set())
    later = timezone.now() + timedelta(days=8)
    lapsed = verifier.verify(cert.credential, stale_keys, now=later)
    assert (lapsed.result, lapsed.status_checked) == ("unknown-issuer", False)
    assert "past its validUntil" in lapsed.detail
    tasks.refresh_status_lists.enqueue()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    listed = StatusList.objects.get().credential
    assert listed["validUntil"] >= before
    fresh = verifier.verify(cert.credential, verifier.KeySet(services.key_set()))
    assert (fresh.result, fresh.detail, fresh.status_checked) == ("valid", "", True)
