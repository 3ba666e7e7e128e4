"""Encryption at rest (issue 11 §3; security.md §1.8 d–e and acceptance tests 20–21; 办法 第24条).

Known answers for SM3/SM4, the storage format, associated data binding a value to its row and column, blind
indexes for exact search and uniqueness, key rotation in batches with old keys readable during the window, and
re-wrapping under a new master key."""

from __future__ import annotations

import base64
import time
from io import StringIO
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.checks import run_checks
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.factories import students as sf
from xueji.changes.models import ChangeRequest
from xueji.core import fieldcrypto
from xueji.core.fieldcrypto import PREFIX, DecryptionError
from xueji.core.models import DataKey
from xueji.students.models import Guardian, IdentityKey, Person
from xueji.students.search import parse_term, person_q

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk: Any) -> str:
    with connection.cursor() as cursor:
        key = pk.hex if connection.vendor == "sqlite" else pk
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [key])  # noqa: S608
        return str(cursor.fetchone()[0])


def _write_raw(table: str, column: str, pk: Any, value: str) -> None:
    with connection.cursor() as cursor:
        key = pk.hex if connection.vendor == "sqlite" else pk
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, key])  # noqa: S608


def test_known_answers_sm3_and_sm4() -> None:
    """security.md test 21: GB/T 32905 SM3("abc") and the GB/T 32907 SM4 example through ``cryptography``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")
    assert digest.finalize().hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - the standard's test vector
    assert (encryptor.update(key) + encryptor.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_gmssl_and_cryptography_agree_on_sm4_gcm_and_hmac_sm3() -> None:
    """The hot path runs on GmSSL (gmssl-pyx); an independent implementation (``cryptography``) reads what it
    writes and the other way round, and computes the same blind index."""
    from cryptography.hazmat.primitives import hmac

    key, aad, text = bytes(range(16)), b"students_person.phone:1", "13800138000 广州".encode()
    blob = fieldcrypto.sm4_gcm_encrypt(key, text, aad)
    nonce, body, tag = blob[:12], blob[12:-16], blob[-16:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    assert decryptor.update(body) + decryptor.finalize() == text
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    theirs = nonce + encryptor.update(text) + encryptor.finalize() + encryptor.tag
    assert fieldcrypto.sm4_gcm_decrypt(key, theirs, aad) == text
    mac = hmac.HMAC(fieldcrypto.blind_index_key(), hashes.SM3())
    mac.update(b"purpose\x00value")
    assert fieldcrypto.blind_index("purpose", "value") == mac.finalize().hex()


def test_sm4_gcm_round_trip_and_tamper() -> None:
    key = bytes(range(16))
    blob = fieldcrypto.sm4_gcm_encrypt(key, "广州市海珠区".encode(), b"t.c:1")
    assert fieldcrypto.sm4_gcm_decrypt(key, blob, b"t.c:1").decode() == "广州市海珠区"
    assert blob != fieldcrypto.sm4_gcm_encrypt(key, "广州市海珠区".encode(), b"t.c:1")  # fresh nonce
    for bad in (blob[:-1] + bytes([blob[-1] ^ 1]), blob[:20], blob):
        with pytest.raises(DecryptionError):
            fieldcrypto.sm4_gcm_decrypt(key, bad, b"t.c:2" if bad is blob else b"t.c:1")


def test_personal_columns_are_stored_encrypted_and_read_back(school_a: Any, registrar_a: Any) -> None:
    e = sf.student(school_a, registrar_a, name="林小雨")
    person = Person.objects.get(pk=e.person_id)
    for column in ("id_number", "student_number", "phone", "current_address", "home_address", "health"):
        stored = _raw("students_person", column, person.pk)
        assert stored.startswith(PREFIX), column
        assert getattr(person, column) not in stored
    assert person.student_number == "G" + person.id_number
    guardian = person.guardians.first()
    assert _raw("students_guardian", "phone", guardian.pk).startswith(PREFIX)
    assert Guardian.objects.get(pk=guardian.pk).phone == guardian.phone
    # Flags and blind indexes are derived on save; the category itself stays encrypted.
    person.disability_type = "4"
    person.save(update_fields=["disability_type"])
    assert Person.objects.filter(pk=person.pk, has_disability=True).exists()


def test_a_value_moved_to_another_row_or_column_does_not_decrypt(school_a: Any, registrar_a: Any) -> None:
    """security.md test 20: swapping ciphertext between rows is detected (associated data = table.column:pk)."""
    a = Person.objects.get(pk=sf.student(school_a, registrar_a, name="林小雨").person_id)
    b = Person.objects.get(pk=sf.student(school_a, registrar_a, name="王大力").person_id)
    _write_raw("students_person", "phone", b.pk, _raw("students_person", "phone", a.pk))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=b.pk).phone
    _write_raw("students_person", "home_address", a.pk, _raw("students_person", "current_address", a.pk))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=a.pk).home_address
    stored = _raw("students_person", "id_number", a.pk)
    blob = bytearray(base64.b64decode(stored.split(":", 2)[2]))
    blob[14] ^= 0x01
    _write_raw(
        "students_person", "id_number", a.pk, stored.rsplit(":", 1)[0] + ":" + base64.b64encode(blob).decode()
    )
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=a.pk).id_number


def test_plaintext_never_reaches_a_query_or_a_bulk_update(school_a: Any, registrar_a: Any) -> None:
    e = sf.student(school_a, registrar_a)
    phone = Person.objects.get(pk=e.person_id).phone
    with pytest.raises(ValueError, match="blind index"):
        list(Person.objects.filter(phone=phone))
    with pytest.raises(ValueError, match="blind index"), transaction.atomic():
        Person.objects.filter(pk=e.person_id).update(phone="13900000000")
    for lookup in ("iexact", "contains", "icontains", "regex", "gt", "endswith"):
        with pytest.raises(FieldError):
            list(Person.objects.filter(**{f"phone__{lookup}": phone}))
    with pytest.raises(ValueError, match="blind index"):
        list(Person.objects.filter(id_number__startswith=phone[:6]))
    with pytest.raises(ValueError, match="unsealed"), transaction.atomic():
        ChangeRequest.objects.filter(pk__in=[]).update(facts={"id_number": "440105201803140017"})
    assert Person.objects.get(pk=e.person_id).phone == phone


def test_exact_search_by_phone_and_id_number_through_blind_indexes(school_a: Any, registrar_a: Any) -> None:
    e = sf.student(school_a, registrar_a, name="林小雨")
    other = sf.student(school_a, registrar_a, name="王大力")
    person = Person.objects.get(pk=e.person_id)
    person.phone = "13912345678"
    person.save(update_fields=["phone"])
    assert parse_term("139 1234 5678").kind == "phone"
    assert {p.name for p in Person.objects.filter(person_q(parse_term("13912345678")))} == {"林小雨"}
    guardian = Person.objects.get(pk=other.person_id).guardians.first()
    guardian.phone = "13700001111"
    guardian.save()
    assert {p.name for p in Person.objects.filter(person_q(parse_term("13700001111")))} == {"王大力"}
    assert {p.name for p in Person.objects.filter(person_q(parse_term(person.id_number)))} == {"林小雨"}
    assert {p.name for p in Person.objects.filter(person_q(parse_term(person.student_number)))} == {"林小雨"}
    assert not Person.objects.filter(person_q(parse_term(person.id_number[:-1]))).exists()


def test_one_person_per_document_is_a_constraint_on_the_blind_index(school_a: Any, registrar_a: Any) -> None:
    """第9条 一人一籍 without plaintext: the registry's primary key is the document's blind index."""
    person = Person.objects.get(pk=sf.student(school_a, registrar_a).person_id)
    key = IdentityKey.make_key("1", person.id_number)
    assert len(key) == 64 and person.id_number not in key
    assert key == IdentityKey.make_key("1", person.id_number.lower() + " ")
    other = Person.objects.get(pk=sf.student(school_a, registrar_a, name="王大力").person_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityKey.objects.create(key=key, person=other, province_code=other.province_code)


def test_rotation_reencrypts_in_batches_and_retires_the_old_key(school_a: Any, registrar_a: Any) -> None:
    """security.md test 20: rotation re-encrypts every row; old-key reads work during the window."""
    people = [Person.objects.get(pk=sf.student(school_a, registrar_a).person_id) for _ in range(5)]
    phones = {p.pk: p.phone for p in people}
    name = "students_person.phone"
    assert all(_raw("students_person", "phone", p.pk).startswith(f"{PREFIX}1:") for p in people)
    # The window: a new version is active while rows are still under the old one — both read.
    DataKey.objects.filter(name=name).update(state=DataKey.State.RETIRING, retiring_since=timezone.now())
    DataKey.objects.create(
        name=name, version=2, wrapped=fieldcrypto.wrapper().wrap(name, 2, bytes(range(16)))
    )
    fieldcrypto.keyring.reset()
    fresh = Person.objects.get(pk=people[0].pk)
    fresh.phone = "13611112222"
    fresh.save(update_fields=["phone"])
    phones[fresh.pk] = "13611112222"
    assert _raw("students_person", "phone", fresh.pk).startswith(f"{PREFIX}2:")
    assert {p.pk: p.phone for p in Person.objects.filter(pk__in=phones)} == phones
    # Through the command: v3, every row re-encrypted in batches of 2; the old versions stay readable.
    call_command("data_keys", "rotate", name, "--batch", "2", stdout=StringIO())
    assert {p.pk: p.phone for p in Person.objects.filter(pk__in=phones)} == phones
    assert all(_raw("students_person", "phone", pk).startswith(f"{PREFIX}3:") for pk in phones)
    states = dict(DataKey.objects.filter(name=name).values_list("version", "state"))
    assert states == {1: "retiring", 2: "retiring", 3: "active"}
    # Within the grace period nothing is erased; after it, retire erases the versions no row uses.
    out = StringIO()
    call_command("data_keys", "retire", name, stdout=out)
    assert "未满宽限期" in out.getvalue() and DataKey.objects.filter(name=name, state="retiring").count() == 2
    call_command("data_keys", "retire", name, "--grace", "0", stdout=StringIO())
    states = dict(DataKey.objects.filter(name=name).values_list("version", "state"))
    assert states == {1: "retired", 2: "retired", 3: "active"}
    assert not DataKey.objects.filter(name=name, version__lt=3).exclude(wrapped=b"").exists()
    assert {p.pk: p.phone for p in Person.objects.filter(pk__in=phones)} == phones
    # Blind indexes did not change (their key is not the data key).
    assert (
        Person.objects.filter(phone_bidx=fieldcrypto.index_for(Person, "phone", "13611112222")).count() == 1
    )


def test_retire_refuses_while_a_row_still_uses_the_old_key(school_a: Any, registrar_a: Any) -> None:
    person = Person.objects.get(pk=sf.student(school_a, registrar_a).person_id)
    address = person.home_address
    name = "students_person.home_address"
    DataKey.objects.filter(name=name).update(state=DataKey.State.RETIRING, retiring_since=timezone.now())
    DataKey.objects.create(name=name, version=2, wrapped=fieldcrypto.wrapper().wrap(name, 2, bytes(16)))
    fieldcrypto.keyring.reset()
    assert fieldcrypto.retire(name, passes=0, grace=0) == 1  # one row still under v1: not retired
    assert DataKey.objects.get(name=name, version=1).state == "retiring"
    stored_v1 = _raw("students_person", "home_address", person.pk)
    assert fieldcrypto.retire(name, grace=0) == 0
    assert DataKey.objects.get(name=name, version=1).state == "retired"
    assert Person.objects.get(pk=person.pk).home_address == address
    # The erased key: the value as it was stored under v1, with its real associated data, no longer reads.
    fieldcrypto.keyring.reset()
    with pytest.raises(DecryptionError, match="no data key"):
        fieldcrypto.decrypt_text(name, f"students_person.home_address:{person.pk}", stored_v1)


def test_a_process_that_has_not_seen_the_rotation_loses_nothing(school_a: Any, registrar_a: Any) -> None:
    """Another worker still writes under the old version for up to a minute after a rotation (its cached idea of
    the active key): the old version stays readable, and retire re-encrypts such rows before it erases anything."""
    person = Person.objects.get(pk=sf.student(school_a, registrar_a).person_id)
    name = "students_person.phone"
    fieldcrypto.rotate(name)
    fieldcrypto.keyring._active[name] = (1, time.monotonic())  # the stale worker's view
    person.phone = "13733334444"
    person.save(update_fields=["phone"])
    assert _raw("students_person", "phone", person.pk).startswith(f"{PREFIX}1:")
    fieldcrypto.keyring.reset()
    assert Person.objects.get(pk=person.pk).phone == "13733334444"
    assert fieldcrypto.retire(name, grace=0) == 0
    assert _raw("students_person", "phone", person.pk).startswith(f"{PREFIX}2:")
    assert DataKey.objects.get(name=name, version=1).state == "retired"
    fieldcrypto.keyring.reset()
    assert Person.objects.get(pk=person.pk).phone == "13733334444"


def test_a_named_master_key_file_that_is_missing_is_an_error(settings: Any, tmp_path: Any) -> None:
    settings.XUEJI_MASTER_KEY_FILE = str(tmp_path / "absent.key")
    with pytest.raises(ImproperlyConfigured, match="XUEJI_MASTER_KEY_FILE"):
        fieldcrypto.master_key()


def test_rewrap_under_a_new_master_key(school_a: Any, registrar_a: Any, settings: Any, tmp_path: Any) -> None:
    person = Person.objects.get(pk=sf.student(school_a, registrar_a).person_id)
    new_key = tmp_path / "master.key"
    call_command("data_keys", "new-master-key", str(new_key), stdout=StringIO())
    assert oct(new_key.stat().st_mode & 0o777) == "0o600"
    call_command("data_keys", "rewrap", "--new-master-key-file", str(new_key), stdout=StringIO())
    fieldcrypto.keyring.reset()
    with pytest.raises(DecryptionError):  # the old master no longer unwraps anything
        _ = Person.objects.get(pk=person.pk).phone
    settings.XUEJI_MASTER_KEY_FILE = str(new_key)
    fieldcrypto.keyring.reset()
    assert Person.objects.get(pk=person.pk).phone == person.phone


def test_upgrade_encrypts_values_left_in_clear(school_a: Any, registrar_a: Any) -> None:
    """What ``data_keys encrypt`` does after the migration: plaintext is read as it is, then encrypted."""
    person = Person.objects.get(pk=sf.student(school_a, registrar_a).person_id)
    _write_raw("students_person", "phone", person.pk, "13522223333")
    _write_raw("students_person", "phone_bidx", person.pk, "")
    assert Person.objects.get(pk=person.pk).phone == "13522223333"
    assert fieldcrypto.needs_upgrade()
    found = run_checks(include_deployment_checks=True, databases=["default"])
    assert [e.id for e in found if e.id == "xueji.E103"] == ["xueji.E103"]
    out = StringIO()
    call_command("data_keys", "encrypt", "--if-needed", stdout=out)
    assert "students_person.phone" in out.getvalue()
    assert not fieldcrypto.needs_upgrade()
    assert not [
        e for e in run_checks(include_deployment_checks=True, databases=["default"]) if e.id == "xueji.E103"
    ]
    call_command("data_keys", "encrypt", "--if-needed", stdout=out)  # nothing left: nothing done
    done = fieldcrypto.encrypt_existing(batch=10)
    assert done["students_person.phone"] == 0  # already encrypted by the command
    assert _raw("students_person", "phone", person.pk).startswith(PREFIX)
    assert Person.objects.get(pk=person.pk).phone == "13522223333"
    assert Person.objects.filter(phone_bidx=fieldcrypto.index_for(Person, "phone", "13522223333")).exists()


def test_every_encrypted_column_has_an_active_key() -> None:
    names = {fieldcrypto.key_name(f) for f in fieldcrypto.encrypted_fields()}
    assert {"students_person.id_number", "students_guardian.phone", "changes_changerequest.facts"} <= names
    active = set(DataKey.objects.filter(state="active").values_list("name", flat=True))
    assert names <= active
