"""The tamper-evident audit chain (issue 11 §2; 等保 8.1.4.3; security.md acceptance tests 6, 7, 21).

An attacker with the owner role lifts the append-only triggers (that is how the tables can be rewritten at all)
and edits the tables directly in SQL; the verifier must name the first bad chain position, and must report
nothing on an untouched chain. Runs on SQLite by default, on PostgreSQL with DATABASE_URL (the test connection
must then be the table owner, e.g. postgres://postgres@127.0.0.1:5432/xj_chain).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import rfc8785
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xueji.audit import chain, signing, triggers
from xueji.audit.chain import (
    BAD_CHECKPOINT,
    INSERTED,
    MISSING,
    MODIFIED,
    REORDERED,
    REWRITTEN,
    TRUNCATED,
    UNCHAINED,
    chain_pending,
    make_checkpoint,
    verify_chain,
)
from xueji.audit.enums import EventType
from xueji.audit.models import AuditChainLink, AuditCheckpoint, AuditEvent
from xueji.audit.services import record, record_many
from xueji.core.errors import ApplicationError

N_EVENTS = 1200
CHAIN_TABLES = [triggers.EVENTS, triggers.CHAIN, triggers.CHECKPOINTS]


@pytest.fixture
def keys(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "keys"
    signing.generate_files()
    return signing.signing_keys()


def _events(n: int = N_EVENTS) -> None:
    """n events of realistic shapes: set-based rows (the COPY path) and single records with before/after."""
    record_many(
        [
            {
                "subject_type": "student",
                "subject_id": f"00000000-0000-0000-0000-{i:012d}",
                "org_unit_id": 1000 + i % 17,
                "province_code": "440000",
                "summary": f"年度升级：{i % 6 + 1}年级 → {i % 6 + 2}年级",
                "after": {"grade": i % 6 + 2, "note": "升级", "list": [1, "二", None, True]},
            }
            for i in range(n - 100)
        ],
        event_type=EventType.BULK_CHANGE,
        actor=None,
    )
    for i in range(100):
        record(
            event_type=EventType.SCHOOL_UPDATED,
            actor=None,
            subject_type="school",
            subject_id=i,
            summary=f"修改学校 {i}",
            before={"name": f"学校{i}", "score": 1.5, "big": 2**60},
            after={"name": f"学校{i}号", "score": 2.25, "emoji": "𝄞"},
        )


def _link(seq: int) -> tuple[int, str]:
    return AuditChainLink.objects.filter(seq=seq).values_list("event_id", "hash").get()


@contextmanager
def attacker() -> Iterator[object]:
    """Owner rights: the append-only triggers lifted for the block (rolled back with the test). CI's PostgreSQL
    leg runs as the application role, which cannot lift them at all (tests/core/test_db_roles.py proves that):
    there these tests are skipped; they run on SQLite and on PostgreSQL as the tables' owner."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables WHERE tablename = %s",
                [CHAIN_TABLES[0]],
            )
            if not cursor.fetchone()[0]:
                pytest.skip("tampering needs the audit tables' owner; the application role is refused it")
            for table in CHAIN_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            triggers.drop(connection.vendor, cursor, CHAIN_TABLES)
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                for table in CHAIN_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                triggers.create(connection.vendor, cursor, CHAIN_TABLES)


class Rollback(Exception):
    pass


@contextmanager
def tampered() -> Iterator[object]:
    """A tamper undone afterwards (savepoint), so one chain serves many tampers."""
    try:
        with transaction.atomic(), attacker() as cursor:
            yield cursor
            raise Rollback
    except Rollback:
        pass


@pytest.fixture
def chained(db, keys):  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()  # events of the fixtures' own setup, if any
    _events()
    run = chain_pending(checkpoints=False)
    assert run.chained == run.head.seq == N_EVENTS + before
    return run


# --- known answers and canonical form ---------------------------------------------------------------------------


def test_sm3_known_answer():
    """GB/T 32905 example 1 (security.md test 21)."""
    assert chain.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@hsettings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_json_is_rfc8785(value):
    """The fast path (Python's C encoder) gives exactly the RFC 8785 bytes whenever it is taken."""
    safe = chain._jcs_safe(value)
    assert chain.jcs(safe) == bytes(rfc8785.dumps(safe))


def test_canonical_event_is_stable_across_reads(chained):
    """The sequencer and the verifier read the stored row; two reads hash the same bytes (no false positive
    from JSON key order, float formatting, time zones or non-BMP text)."""
    rows = list(AuditEvent.objects.order_by("id").values_list(*chain.FIELDS)[:5]) + list(
        AuditEvent.objects.order_by("-id").values_list(*chain.FIELDS)[:5]
    )
    again = {
        r[0]: r for r in AuditEvent.objects.filter(id__in=[r[0] for r in rows]).values_list(*chain.FIELDS)
    }
    for row in rows:
        assert chain.canonical(row) == chain.canonical(again[row[0]])
        assert b'"occurred_at":"' in chain.canonical(row) and chain.canonical(row).count(b"Z") >= 1


# --- the sequencer ------------------------------------------------------------------------------------------------


def test_untouched_chain_verifies(chained):
    result = verify_chain()
    assert result.ok, result.problems
    assert result.checked == result.head.seq == chained.head.seq >= N_EVENTS
    assert result.head.hash == AuditChainLink.objects.get(seq=chained.head.seq).hash


def test_sequencer_is_incremental_and_idempotent(chained):
    assert chain_pending(checkpoints=False).chained == 0
    record(event_type=EventType.LOGIN, actor=None, summary="later")
    run = chain_pending(checkpoints=False)
    assert run.chained == 1 and run.head.seq == chained.head.seq + 1
    assert verify_chain().ok


def test_late_commit_gets_a_later_position(chained):
    """An event whose transaction commits after later ids were chained (a lower id, written now) is chained at
    the next position: the chain order is the sequencer's."""
    low = AuditEvent.objects.order_by("id").values_list("id", flat=True).first() - 1
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (id, occurred_at, event_type, actor_username, actor_role, province_code,"
            " subject_type, subject_id, summary, success, request_id) VALUES (%s, %s, 'auth.login', 'late', '', '',"
            " '', '', 'late commit', %s, '')",
            [low, timezone.now(), True],
        )
    run = chain_pending(checkpoints=False)
    assert run.chained == 1
    assert AuditChainLink.objects.get(seq=chained.head.seq + 1).event_id == low
    assert AuditChainLink.objects.get(seq=chained.head.seq + 1).high_water == run.head.high_water > low
    assert verify_chain().ok


def test_settled_window_skips_old_ids(chained):
    """Hours later the sequencer looks for late commits only above the settled high-water mark."""
    later = timezone.now() + timedelta(seconds=chain.settle_seconds() + 60)
    top = chain.head()
    assert chain.settled_floor(top, later) == top.high_water
    assert chain.settled_floor(top, timezone.now()) is None


def test_chain_rows_are_append_only(chained):
    """The chain columns are protected like the events (security.md test 7): ORM and raw SQL refused."""
    link = AuditChainLink.objects.get(seq=1)
    with pytest.raises(ApplicationError):
        AuditChainLink.objects.filter(seq=1).update(hash="0" * 64)
    with pytest.raises(ApplicationError):
        link.delete()
    for sql in (
        "UPDATE audit_auditchainlink SET hash = 'x' WHERE seq = 1",
        "DELETE FROM audit_auditchainlink WHERE seq = 1",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditChainLink.objects.get(seq=1).hash == link.hash


# --- tampering ------------------------------------------------------------------------------------------------------


def _only(result, kind, seq):  # type: ignore[no-untyped-def]
    first = result.first
    assert first is not None, "tamper not detected"
    assert (first.kind, first.seq) == (kind, seq), result.problems


def test_update_a_byte_is_modified(chained):
    event_id, _h = _link(500)
    with tampered() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = summary || 'x' WHERE id = %s", [event_id])
        _only(verify_chain(), MODIFIED, 500)
    with tampered() as cursor:  # one character of the JSON payload
        cursor.execute("UPDATE audit_auditevent SET actor_username = 'systen' WHERE id = %s", [_link(1)[0]])
        _only(verify_chain(), MODIFIED, 1)
    with tampered() as cursor:  # the stored hash itself
        cursor.execute("UPDATE audit_auditchainlink SET hash = %s WHERE seq = 777", ["f" * 64])
        _only(verify_chain(), MODIFIED, 777)
    assert verify_chain().ok


def test_delete_is_missing(chained):
    with tampered() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [_link(300)[0]])
        _only(verify_chain(), MISSING, 300)
    with tampered() as cursor:  # the event and its link
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [_link(301)[0]])
        cursor.execute("DELETE FROM audit_auditchainlink WHERE seq = 301")
        _only(verify_chain(), MISSING, 301)


def test_swapped_rows_are_reordered(chained):
    a, b, c = _link(400)[0], _link(700)[0], _link(401)[0]
    cols = ", ".join(chain.EVENT_COLUMNS)
    with tampered() as cursor:  # swap two rows' content (ids stay): event 400 now tells 700's story and back
        cursor.execute(
            f"INSERT INTO audit_auditevent (id, {cols}) SELECT -99, {cols} FROM audit_auditevent WHERE id = %s",  # noqa: S608 - column names are ours
            [a],
        )
        cursor.execute(
            f"UPDATE audit_auditevent SET ({cols}) = (SELECT {cols} FROM audit_auditevent WHERE id = %s) WHERE id = %s",  # noqa: S608
            [b, a],
        )
        cursor.execute(
            f"UPDATE audit_auditevent SET ({cols}) = (SELECT {cols} FROM audit_auditevent WHERE id = -99) WHERE id = %s",  # noqa: S608
            [b],
        )
        cursor.execute("DELETE FROM audit_auditevent WHERE id = -99")
        _only(verify_chain(), REORDERED, 400)
    with tampered() as cursor:  # swap two links' positions
        cursor.execute("UPDATE audit_auditchainlink SET seq = -1 WHERE seq = 400")
        cursor.execute("UPDATE audit_auditchainlink SET seq = 400 WHERE seq = 700")
        cursor.execute("UPDATE audit_auditchainlink SET seq = 700 WHERE seq = -1")
        _only(verify_chain(), REORDERED, 400)
    with tampered() as cursor:  # swap the events two neighbouring links point to
        cursor.execute("UPDATE audit_auditchainlink SET event_id = -1 WHERE seq = 400")
        cursor.execute("UPDATE audit_auditchainlink SET event_id = %s WHERE seq = 401", [a])
        cursor.execute("UPDATE audit_auditchainlink SET event_id = %s WHERE seq = 400", [c])
        _only(verify_chain(), REORDERED, 400)


def test_forged_row_spliced_in_is_inserted(chained):
    """The attacker inserts a forged event, computes its link hash correctly from the link before, and
    renumbers the rest: the next link no longer follows it."""
    prev_hash = AuditChainLink.objects.get(seq=599).hash
    with tampered() as cursor:
        forged = record(event_type=EventType.LOGIN, actor=None, summary="forged")
        row = AuditEvent.objects.filter(pk=forged.pk).values_list(*chain.FIELDS).get()
        cursor.execute("UPDATE audit_auditchainlink SET seq = -seq WHERE seq >= 600")
        cursor.execute("UPDATE audit_auditchainlink SET seq = 1 - seq WHERE seq < 0")
        cursor.execute(
            "INSERT INTO audit_auditchainlink (seq, event_id, hash, high_water, chained_at) VALUES (600, %s, %s, %s, %s)",
            [forged.pk, chain.link_hash(prev_hash, chain.canonical(row)), forged.pk, timezone.now()],
        )
        _only(verify_chain(), INSERTED, 600)


def test_truncated_tail_below_checkpoint(chained, keys):
    checkpoint = make_checkpoint()
    assert checkpoint is not None and checkpoint.seq == chained.head.seq
    with tampered() as cursor:
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE id IN (SELECT event_id FROM audit_auditchainlink WHERE seq > 1000)"
        )
        cursor.execute("DELETE FROM audit_auditchainlink WHERE seq > 1000")
        _only(verify_chain(), TRUNCATED, 1001)


def test_recomputed_chain_contradicts_signed_checkpoint(chained, keys):
    """The attacker edits event 500 and recomputes every later hash: the chain is consistent again, but no
    longer matches the signed checkpoint at its head."""
    make_checkpoint()
    with tampered() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = 'rewritten' WHERE id = %s", [_link(500)[0]])
        previous = AuditChainLink.objects.get(seq=499).hash
        links = list(
            AuditChainLink.objects.filter(seq__gte=500).order_by("seq").values_list("seq", "event_id")
        )
        events = {
            r[0]: r
            for r in AuditEvent.objects.filter(id__in=[e for _s, e in links]).values_list(*chain.FIELDS)
        }
        for seq, event_id in links:
            previous = chain.link_hash(previous, chain.canonical(events[event_id]))
            cursor.execute("UPDATE audit_auditchainlink SET hash = %s WHERE seq = %s", [previous, seq])
        result = verify_chain()
        _only(result, REWRITTEN, chained.head.seq)
        assert f"1 至 {chained.head.seq}" in result.first.detail


def test_unchained_event_in_the_past(chained):
    """An event slipped in below the settled high-water mark (hours after chaining) is in no link."""
    low = AuditEvent.objects.order_by("id").values_list("id", flat=True).first() - 5
    with tampered() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (id, occurred_at, event_type, actor_username, actor_role, province_code,"
            " subject_type, subject_id, summary, success, request_id) VALUES (%s, %s, 'auth.login', 'x', '', '',"
            " '', '', 'backdated', %s, '')",
            [low, timezone.now() - timedelta(days=30), True],
        )
        later = timezone.now() + timedelta(seconds=chain.settle_seconds() + 60)
        result = verify_chain(now=later)
        assert result.first is not None and (result.first.kind, result.first.event_id) == (UNCHAINED, low)
        assert verify_chain().ok  # within the settle window it may still be a late commit: no false positive


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_tampers_all_detected(chained, seed):
    """Random single tampers (security.md test 6, CI-sized): each one flagged, at the tampered position."""
    rng = random.Random(seed)
    for _ in range(10):
        seq = rng.randint(2, N_EVENTS - 3)
        event_id = _link(seq)[0]
        kind = rng.choice(["byte", "delete", "link", "swap"])
        with tampered() as cursor:
            if kind == "byte":
                cursor.execute(
                    "UPDATE audit_auditevent SET subject_id = subject_id || '0' WHERE id = %s", [event_id]
                )
            elif kind == "delete":
                cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event_id])
            elif kind == "link":
                cursor.execute("DELETE FROM audit_auditchainlink WHERE seq = %s", [seq])
            else:
                cursor.execute("UPDATE audit_auditchainlink SET seq = -1 WHERE seq = %s", [seq])
                cursor.execute("UPDATE audit_auditchainlink SET seq = %s WHERE seq = %s", [seq, seq + 1])
                cursor.execute("UPDATE audit_auditchainlink SET seq = %s WHERE seq = -1", [seq + 1])
            first = verify_chain().first
            assert first is not None and first.seq == seq, (kind, seq, first)


# --- checkpoints ----------------------------------------------------------------------------------------------------


def test_signed_checkpoint_verifies_and_forged_does_not(chained, keys):
    checkpoint = make_checkpoint()
    assert checkpoint is not None
    assert make_checkpoint() is None  # the head is signed already
    public = signing.public_keys()
    record_ = chain.CheckpointRecord.of(checkpoint)
    assert record_.signatures_valid(public)
    message = chain.statement(seq=checkpoint.seq, head_hash=checkpoint.head, created_at=checkpoint.created_at)
    assert public[checkpoint.ed25519_key_id].verify(message, bytes.fromhex(checkpoint.ed25519_signature))
    assert public[checkpoint.sm2_key_id].verify(message, bytes.fromhex(checkpoint.sm2_signature))
    # the same statement with another head, or signed by a key we do not hold, does not verify
    import dataclasses

    assert not dataclasses.replace(record_, head="0" * 64).signatures_valid(public)
    stranger = signing.generate(signing.ED25519)
    assert not dataclasses.replace(
        record_, ed25519_key_id=stranger.kid, ed25519_signature=stranger.sign(message).hex()
    ).signatures_valid(public)
    assert verify_chain().ok
    with tampered() as cursor:  # a forged checkpoint row
        cursor.execute(
            "INSERT INTO audit_auditcheckpoint (seq, head, created_at, ed25519_key_id, ed25519_signature, sm2_key_id,"
            " sm2_signature) VALUES (2000, %s, %s, %s, %s, %s, %s)",
            [
                "a" * 64,
                timezone.now(),
                checkpoint.ed25519_key_id,
                "00" * 64,
                checkpoint.sm2_key_id,
                "00" * 70,
            ],
        )
        result = verify_chain()
        assert [(p.kind, p.seq) for p in result.problems] == [(BAD_CHECKPOINT, 2000)]


def test_sm2_signature_verifies_with_openssl(chained, keys, tmp_path):
    """The SM2 checkpoint signature is a standard GB/T 32918 signature (SM3, default signer id): OpenSSL
    verifies it (security.md test 21), when an OpenSSL with SM2 is at hand."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl")
    checkpoint = make_checkpoint()
    key = keys[signing.SM2]
    message = chain.statement(seq=checkpoint.seq, head_hash=checkpoint.head, created_at=checkpoint.created_at)
    # SubjectPublicKeyInfo of an SM2 point: id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301
    spki = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200") + b"\x04" + key.public
    (tmp_path / "pub.der").write_bytes(spki)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(bytes.fromhex(checkpoint.sm2_signature))
    done = subprocess.run(  # noqa: S603 - the system openssl
        [openssl, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "pub.der"),
         "-rawin", "-digest", "sm3", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
         "-pkeyopt", "distid:1234567812345678"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "Unknown" in done.stderr or "unsupported" in done.stderr.lower():
        pytest.skip(f"openssl without SM2: {done.stderr[:100]}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_sequencer_signs_checkpoints_when_due(db, keys, settings):
    settings.AUDIT_CHECKPOINT_EVERY = 500
    _events(1200)
    run = chain_pending(batch=250)
    assert run.checkpoints >= 2
    seqs = list(AuditCheckpoint.objects.values_list("seq", flat=True))
    assert seqs == sorted(seqs) and seqs[-1] <= 1200
    assert verify_chain().ok


def test_missing_keys_stop_checkpoints_not_the_chain(db, settings, tmp_path):
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "none"
    before = AuditEvent.objects.count()
    _events(150)
    run = chain_pending()
    assert run.chained == 150 + before and run.checkpoints == 0
    with pytest.raises(signing.SigningKeyError):
        make_checkpoint()


def test_key_file_readable_by_others_is_refused(tmp_path, settings):
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path
    signing.generate_files()
    (tmp_path / "sm2.json").chmod(0o644)
    with pytest.raises(signing.SigningKeyError) as exc:
        signing.signing_keys()
    assert exc.value.code == "audit_key_invalid"


def test_rotated_keys_still_verify_old_checkpoints(chained, keys):
    old = make_checkpoint()
    signing.rotate_files()
    record(event_type=EventType.LOGIN, actor=None)
    chain_pending(checkpoints=False)
    new = make_checkpoint()
    assert old.ed25519_key_id != new.ed25519_key_id
    assert verify_chain().ok and verify_chain().checkpoints == 2


# --- commands and export --------------------------------------------------------------------------------------------


def test_commands_and_exported_checkpoints(db, keys, tmp_path, capsys):
    """``audit_chain``, ``audit_checkpoint --export`` and ``audit_verify``: exit 1 naming the position once the
    chain is cut below an exported checkpoint — even when the attacker also deleted the checkpoint rows."""
    total = AuditEvent.objects.count() + 1100
    _events(1100)
    call_command("audit_chain")
    call_command("audit_checkpoint")
    export = tmp_path / "cp.json"
    call_command("audit_checkpoint", "--export", str(export))
    data = json.loads(export.read_text())
    assert data["checkpoints"][-1]["seq"] == total and {k["alg"] for k in data["keys"]} == {"ed25519", "sm2"}
    call_command("audit_verify", "--checkpoints", str(export))
    assert "审计链完整" in capsys.readouterr().out
    assert AuditEvent.objects.filter(event_type=EventType.AUDIT_CHAIN_VERIFIED).count() == 1
    with tampered() as cursor:
        cursor.execute("DELETE FROM audit_auditcheckpoint")
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE id IN (SELECT event_id FROM audit_auditchainlink WHERE seq > 1050)"
        )
        cursor.execute("DELETE FROM audit_auditchainlink WHERE seq > 1050")
        call_command("audit_verify", "--no-record")  # without the exported copy the cut is invisible
        with pytest.raises(CommandError) as exc:
            call_command("audit_verify", "--checkpoints", str(export), "--no-record")
        assert exc.value.returncode == 1 and "链序号 1051" in str(exc.value)
    with tampered() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = 'x' WHERE id = %s", [_link(10)[0]])
        with pytest.raises(CommandError) as exc:
            call_command("audit_verify")
        assert "链序号 10" in str(exc.value)
        assert AuditEvent.objects.filter(event_type=EventType.AUDIT_CHAIN_BROKEN, success=False).exists()


def test_scheduled_tasks_chain_and_verify(db, keys):
    """``chain_events`` (every minute) chains and signs; ``verify_events`` (daily) records the outcome, and a
    broken chain becomes an ``audit.chain_broken`` event for the early warning (第23条)."""
    from xueji.audit.tasks import chain_events, verify_events

    _events(200)
    assert chain_events.call() >= 200
    assert AuditCheckpoint.objects.exists()
    assert verify_events.call() is True
    with tampered() as cursor:
        cursor.execute("UPDATE audit_auditevent SET summary = 'x' WHERE id = %s", [_link(50)[0]])
        assert verify_events.call() is False
        broken = AuditEvent.objects.get(event_type=EventType.AUDIT_CHAIN_BROKEN)
        assert (broken.success, broken.subject_id, broken.after["problems"][0][:2]) == (
            False,
            "50",
            ["modified", 50],
        )
