"""Encryption at rest of personal data (issue 11 §3; security.md §1.8 d–e and test 20; GB/T 39786-2021 §8.4 e;
《儿童个人信息网络保护规定》: children's data is stored encrypted; 办法 第24条: leaks are prevented).

How a value is stored
    ``E1:<version>:<base64(nonce ‖ ciphertext ‖ tag)>`` — SM4-GCM (GB/T 32907, GmSSL through ``gmssl-pyx``) with a
    96-bit random nonce and a 128-bit tag. The associated data is ``<table>.<column>:<primary key>``: a value
    copied into another row or column does not decrypt (ciphertext swapping is detected, not silently read).
    The empty string and NULL are stored as they are (a missing phone is not a secret worth a key).

Keys
    Each encrypted column has its own data keys (:class:`~xueji.core.models.DataKey`, one row per version). A data
    key is stored only wrapped — SM4-GCM under the master key, the column name and version as associated data.
    The master key never touches the database: ``XUEJI_MASTER_KEY`` (32 hex digits) or ``XUEJI_MASTER_KEY_FILE``
    (a 0600 file holding them); development derives one from ``SECRET_KEY`` and production refuses to start
    without an explicit key (``config.settings``). ``XUEJI_KEY_WRAPPER`` names the class that wraps and unwraps
    data keys: :class:`MasterKeyWrapper` by default; a hardware security module (密码机, PKCS#11) plugs in as a
    class with the same two methods that calls ``C_WrapKey``/``C_UnwrapKey`` (or ``C_Encrypt``/``C_Decrypt``
    with an SM4 key that never leaves the module) — see docs/encryption.md.
    Keys of a column are created by ``migrate`` (``post_migrate``) and by ``manage.py data_keys rotate``, never
    lazily inside a request: a key created in a transaction that is rolled back could otherwise have encrypted
    rows that outlive it.

Blind indexes
    Exact search on an encrypted column (ID number, phone, 学籍号) goes through a blind index: HMAC-SM3 of the
    normalised value under its own key (``XUEJI_BLIND_INDEX_KEY``; development derives one from ``SECRET_KEY``),
    with the column's purpose label, so equal values in two columns do not give equal indexes.

Reading
    Values are decrypted lazily, on first attribute access (the descriptor knows the row's primary key, which
    ``from_db_value`` does not). ``QuerySet.values()`` therefore returns ciphertext; callers that need plaintext
    from a values query call :func:`decrypt_value` with the primary key. Writing goes through ``Model.save()`` or
    ``bulk_create`` (``pre_save`` sees the row); ``QuerySet.update()``, ``bulk_update`` and filters with plaintext
    on an encrypted column raise instead of storing or comparing plaintext.
"""

from __future__ import annotations

import base64
import functools
import hmac as std_hmac
import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import gmssl_pyx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.db.models.lookups import StartsWith
from django.db.models.query_utils import DeferredAttribute
from django.utils import timezone
from django.utils.module_loading import import_string


def _data_key_model() -> Any:
    """The DataKey model, imported when first needed: the pure functions of this module (SM4-GCM, blind indexes)
    are used by code that runs before Django's app registry is ready (validators, the import template)."""
    from .models import DataKey  # noqa: PLC0415 - see the docstring

    return DataKey


PREFIX = "E1:"
KEY_BYTES = 16  # SM4 keys are 128 bits
NONCE_BYTES = 12
TAG_BYTES = 16
#: How long a process trusts its idea of a column's active key version (a rotation elsewhere is picked up).
ACTIVE_TTL_SECONDS = 60.0


class DecryptionError(Exception):
    """A stored value failed authentication: altered, moved to another row or column, or its key is gone."""


# --- SM4-GCM ---------------------------------------------------------------------------------------------------


# The hot path (every personal value of every row written or read) goes through GmSSL's C implementation
# (gmssl-pyx): 2.7 µs per SM4-GCM value against 9–11 µs through ``cryptography``'s Cipher objects, which the
# import's 20 % budget cannot afford. Both are standard SM4-GCM (96-bit nonce, 128-bit tag): the tests encrypt with
# one and decrypt with the other, and check ``cryptography`` against the GB/T 32907 vector.


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce ‖ ciphertext ‖ tag under SM4-GCM (nonce from the OS CSPRNG)."""
    nonce = os.urandom(NONCE_BYTES)
    body, tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, aad, plaintext)
    return nonce + body + tag


def sm4_gcm_decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("truncated")
    nonce, body, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    try:
        return bytes(gmssl_pyx.sm4_gcm_decrypt(key, nonce, aad, body, tag))
    except gmssl_pyx.InvalidValueError as exc:
        raise DecryptionError("authentication failed") from exc


def _derived(label: bytes, length: int = KEY_BYTES) -> bytes:
    """A development key derived from SECRET_KEY (HKDF-SM3); production sets explicit keys (settings refuse)."""
    return _derive(label, length, settings.SECRET_KEY)


@functools.lru_cache(maxsize=16)
def _derive(label: bytes, length: int, secret: str) -> bytes:
    return HKDF(hashes.SM3(), length, None, label).derive(secret.encode())


@functools.lru_cache(maxsize=16)
def _hex_key(text: str, name: str, length: int) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: expected {length * 2} hex digits") from exc
    if len(key) != length:
        raise ImproperlyConfigured(f"{name}: expected {length * 2} hex digits, got {len(key) * 2}")
    return key


def master_key() -> bytes:
    """The master key: ``XUEJI_MASTER_KEY`` (hex), else the file ``XUEJI_MASTER_KEY_FILE``, else (development
    only) derived from SECRET_KEY."""
    configured = getattr(settings, "XUEJI_MASTER_KEY", "") or ""
    if configured:
        return _hex_key(configured, "XUEJI_MASTER_KEY", KEY_BYTES)
    configured_file = getattr(settings, "XUEJI_MASTER_KEY_FILE", "") or ""
    if configured_file:
        path = Path(configured_file)
        if not path.is_file():  # never fall back to a derived key when a file was named
            raise ImproperlyConfigured(f"XUEJI_MASTER_KEY_FILE: {path} is not a readable file")
        return _hex_key(path.read_text(encoding="ascii"), "XUEJI_MASTER_KEY_FILE", KEY_BYTES)
    return _derived(b"xueji.master-key")


def blind_index_key() -> bytes:
    configured = getattr(settings, "XUEJI_BLIND_INDEX_KEY", "") or ""
    if configured:
        return _hex_key(configured, "XUEJI_BLIND_INDEX_KEY", 32)
    return _derived(b"xueji.blind-index", 32)


class MasterKeyWrapper:
    """Wraps data keys with SM4-GCM under :func:`master_key` (the default ``XUEJI_KEY_WRAPPER``), the column
    and version bound as associated data. A hardware module replaces this class (same two methods)."""

    def master(self) -> bytes:
        return master_key()

    def wrap(self, name: str, version: int, key: bytes) -> bytes:
        return sm4_gcm_encrypt(self.master(), key, f"datakey:{name}:{version}".encode())

    def unwrap(self, name: str, version: int, wrapped: bytes) -> bytes:
        return sm4_gcm_decrypt(self.master(), wrapped, f"datakey:{name}:{version}".encode())


def wrapper() -> Any:
    path = getattr(settings, "XUEJI_KEY_WRAPPER", "") or "xueji.core.fieldcrypto.MasterKeyWrapper"
    return import_string(path)()


# --- the keyring -----------------------------------------------------------------------------------------------


class Keyring:
    """Unwrapped data keys of this process, by (column, version); the active version per column is re-read
    from the database every :data:`ACTIVE_TTL_SECONDS`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int], bytes] = {}
        self._active: dict[str, tuple[int, float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()
            self._active.clear()

    def _load(self, name: str, version: int) -> bytes:

        row = _data_key_model().objects.filter(name=name, version=version).first()
        if row is None or not row.wrapped:
            raise DecryptionError(f"no data key {name} v{version}")
        key = wrapper().unwrap(name, version, bytes(row.wrapped))
        self._keys[(name, version)] = key
        return key

    def key(self, name: str, version: int) -> bytes:
        found = self._keys.get((name, version))
        return found if found is not None else self._load(name, version)

    def active(self, name: str) -> tuple[int, bytes]:
        now = time.monotonic()
        cached = self._active.get(name)
        if cached is None or now - cached[1] > ACTIVE_TTL_SECONDS:
            version = (
                _data_key_model()
                .objects.filter(name=name, state=_data_key_model().State.ACTIVE)
                .order_by("-version")
                .values_list("version", flat=True)
                .first()
            )
            if version is None:
                raise ImproperlyConfigured(
                    f"No data key for {name}: run `manage.py migrate` (it creates the keys of every encrypted column)"
                )
            with self._lock:
                self._active[name] = (version, now)
            cached = self._active[name]
        return cached[0], self.key(name, cached[0])


keyring = Keyring()


def encrypt_text(name: str, aad: str, plaintext: str) -> str:
    version, key = keyring.active(name)
    blob = sm4_gcm_encrypt(key, plaintext.encode(), aad.encode())
    return f"{PREFIX}{version}:{base64.b64encode(blob).decode('ascii')}"


def stored_version(stored: str) -> int | None:
    """The key version a stored value was encrypted under (None: not an encrypted value)."""
    if not stored.startswith(PREFIX):
        return None
    head = stored[len(PREFIX) :].split(":", 1)[0]
    return int(head) if head.isdigit() else None


def decrypt_text(name: str, aad: str, stored: str) -> str:
    version = stored_version(stored)
    if version is None:
        raise DecryptionError("not an encrypted value")
    blob = base64.b64decode(stored.split(":", 2)[2])
    return sm4_gcm_decrypt(keyring.key(name, version), blob, aad.encode()).decode()


def blind_index(purpose: str, value: str) -> str:
    """HMAC-SM3(blind-index key, purpose ‖ 0x00 ‖ value) as 64 hex digits; ``""`` for an empty value."""
    if not value:
        return ""
    return bytes(gmssl_pyx.sm3_hmac(blind_index_key(), purpose.encode() + b"\x00" + value.encode())).hex()


def blind_index_matches(stored: str, purpose: str, value: str) -> bool:
    return std_hmac.compare_digest(stored, blind_index(purpose, value))


# --- model fields ----------------------------------------------------------------------------------------------


def _aad(field: models.Field, pk: Any) -> str:
    return f"{field.model._meta.db_table}.{field.column}:{pk}"  # type: ignore[union-attr]


def _row_id(field: Any, instance: Any) -> Any:
    """What binds a value to its row: the primary key, or (``bind``) other columns known before the insert —
    for append-only tables whose key the database assigns."""
    bind = getattr(field, "bind", ())
    if not bind:
        return instance.pk
    return "|".join(str(getattr(instance, name)) for name in bind)


def key_name(field: models.Field) -> str:
    """The data keys' name of an encrypted column: ``<table>.<column>``."""
    return f"{field.model._meta.db_table}.{field.column}"  # type: ignore[union-attr]


def decrypt_value(field: models.Field, pk: Any, stored: Any) -> Any:
    """The plaintext of a value read without its model instance (``.values()``), given its row's pk."""
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        return stored
    return field.from_plaintext(decrypt_text(key_name(field), _aad(field, pk), stored))  # type: ignore[attr-defined]


class _DataDescriptor(DeferredAttribute):
    """A data descriptor (``__set__`` defined), so that ``__get__`` runs even when the value is in the instance's
    ``__dict__`` — a plain DeferredAttribute is consulted only for deferred fields."""

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class _DecryptingAttribute(_DataDescriptor):
    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, str) and value.startswith(PREFIX):
            value = decrypt_value(self.field, _row_id(self.field, instance), value)
            instance.__dict__[self.field.attname] = value
        return value


class _EnvelopeStartsWith(StartsWith):
    """``startswith`` on an encrypted column only for the envelope's prefix (which key version), never for
    plaintext — a plaintext pattern would silently match nothing."""

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        if not str(value).startswith(PREFIX):
            raise ValueError(
                f"{self.lhs.target}: a plaintext pattern on an encrypted column — use the blind index"
            )
        return super().get_db_prep_lookup(value, connection)


#: What may be asked of an encrypted column in a query: equality with the empty value or an envelope, emptiness,
#: and the key-version prefix. Anything else (iexact, contains, regex, comparisons…) is a FieldError.
ENCRYPTED_LOOKUPS = frozenset({"exact", "in", "isnull"})


class EncryptedMixin:
    """Shared by the encrypted fields: encrypt in ``pre_save`` (the row is known), decrypt on access."""

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "startswith":
            return _EnvelopeStartsWith
        if lookup_name not in ENCRYPTED_LOOKUPS:
            return None
        return super().get_lookup(lookup_name)  # type: ignore[misc]

    def get_transform(self, lookup_name: str) -> Any:
        return None

    descriptor_class = _DecryptingAttribute
    encrypted = True
    bind: tuple[str, ...] = ()

    def db_type(self, connection: Any) -> str | None:
        return str(connection.data_types["TextField"])

    def rel_db_type(self, connection: Any) -> str | None:
        return self.db_type(connection)

    def cast_db_type(self, connection: Any) -> str | None:
        return self.db_type(connection)

    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, text: str) -> Any:
        return text

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = getattr(model_instance, self.attname)  # type: ignore[attr-defined]
        if value is None or value == "":
            return value
        row = _row_id(self, model_instance)
        if row is None:
            raise ValueError(f"{self}: the row needs its primary key before its value is encrypted")
        return encrypt_text(key_name(self), _aad(self, row), self.to_plaintext(value))  # type: ignore[arg-type]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or value == "" or (isinstance(value, str) and value.startswith(PREFIX)):
            return value
        raise ValueError(
            f"{self}: plaintext in a query or a bulk update — filter through the blind index, write through save()"
        )


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A CharField stored SM4-GCM encrypted in a text column; ``max_length`` limits the plaintext (forms and
    validation), not the column."""


class DerivedFieldsMixin:
    """For models with blind indexes or flags: ``save(update_fields=[source])`` also writes what is derived
    from the source, so an index never goes stale."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            fields = list(update_fields)
            for f in self._meta.concrete_fields:  # type: ignore[attr-defined]
                if hasattr(f, "derive") and set(f.sources) & set(fields) and f.name not in fields:
                    fields.append(f.name)
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)  # type: ignore[misc]


class EncryptedJSONField(EncryptedMixin, models.TextField):
    """A JSON document stored SM4-GCM encrypted (never queried by key). ``bind``: the columns that bind it to
    its row when the primary key is assigned by the database (default: the primary key)."""

    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def __init__(self, *args: Any, bind: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.bind = tuple(bind)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.bind:
            kwargs["bind"] = self.bind
        return name, path, args, kwargs

    def to_plaintext(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def from_plaintext(self, text: str) -> Any:
        return json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # Written before the column was encrypted: plain JSON text (until ``data_keys encrypt`` runs).
        if isinstance(value, str) and value and not value.startswith(PREFIX):
            return json.loads(value)
        return value


class _Unsealed(dict):  # type: ignore[type-arg]
    """A JSON document whose sensitive values have been decrypted (not decrypted twice)."""


def _walk(value: Any, sensitive: frozenset[str], change: Any) -> Any:
    """``value`` with ``change(key, v)`` applied to every non-empty value under a sensitive key, at any depth —
    and to the ``value`` of a ``{"field": <sensitive key>, "value": …}`` pair (a correction names its field)."""
    if isinstance(value, dict):
        paired = value.get("field") in sensitive
        return {
            k: (
                change(k, v)
                if (k in sensitive or (paired and k == "value")) and v not in (None, "", [], {})
                else _walk(v, sensitive, change)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, sensitive, change) for v in value]
    return value


class _UnsealingAttribute(_DataDescriptor):
    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, dict) and not isinstance(value, _Unsealed):
            value = _Unsealed(self.field.unseal(value, instance.pk))  # type: ignore[attr-defined]
            instance.__dict__[self.field.attname] = value
        return value


class SealedJSONField(models.JSONField):
    """A JSON document that stays queryable by its other keys while the values under ``sensitive`` keys (at any
    depth: an ID number or a phone among a change request's facts) are SM4-GCM encrypted, each bound to its row,
    column and key."""

    descriptor_class = _UnsealingAttribute

    def __init__(self, *args: Any, sensitive: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.sensitive = frozenset(sensitive)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        # ``sensitive`` is not part of the schema: which keys are sealed can change without a migration.
        return super().deconstruct()

    def _aad(self, key: str, pk: Any) -> str:
        return f"{self.model._meta.db_table}.{self.column}.{key}:{pk}"  # type: ignore[union-attr]

    def seal(self, value: Any, pk: Any) -> Any:
        """Each sensitive value — a string, a number, a list — becomes the envelope of its JSON text."""
        name = key_name(self)

        def seal_one(k: str, v: Any) -> Any:
            if isinstance(v, str) and v.startswith(PREFIX):
                return v  # sealed already (a document written back as it was read)
            return encrypt_text(name, self._aad(k, pk), json.dumps(v, ensure_ascii=False))

        return _walk(value, self.sensitive, seal_one)

    def unseal(self, value: Any, pk: Any) -> Any:
        name = key_name(self)

        def unseal_one(k: str, v: Any) -> Any:
            if isinstance(v, str) and v.startswith(PREFIX):
                return json.loads(decrypt_text(name, self._aad(k, pk), v))
            return v  # written before sealing (until ``data_keys encrypt``)

        return _walk(value, self.sensitive, unseal_one)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if isinstance(value, dict | list):
            leaks: list[str] = []
            _walk(
                value,
                self.sensitive,
                lambda k, v: leaks.append(k) if not (isinstance(v, str) and v.startswith(PREFIX)) else v,
            )
            if leaks:
                raise ValueError(f"{self}: unsealed {', '.join(sorted(set(leaks)))} — write through save()")
        return super().get_db_prep_value(value, connection, prepared)

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if model_instance.pk is None:
            raise ValueError(f"{self}: the row needs its primary key before its values are sealed")
        return self.seal(value, model_instance.pk)


class BlindIndexField(models.CharField):
    """HMAC-SM3 of another field's normalised value (:func:`blind_index`), computed on save; indexed."""

    def __init__(self, *args: Any, source: str = "", normalise: str = "strip", **kwargs: Any) -> None:
        self.source = source
        self.normalise = normalise
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["normalise"] = self.normalise
        for key, default in (("max_length", 64), ("blank", True), ("editable", False), ("default", "")):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    def purpose(self) -> str:
        source = self.model._meta.get_field(self.source)  # type: ignore[union-attr]
        return key_name(source)  # type: ignore[arg-type]

    def index_of(self, value: Any) -> str:
        return blind_index(self.purpose(), normalise(self.normalise, value))

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,)

    def derive(self, value: Any) -> str:
        return self.index_of(value)

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        return derive_on(self, model_instance)


class FlagField(models.BooleanField):
    """A non-secret yes/no derived on save from an encrypted code (``value not in false_values``), so that
    set-based statistics can count it without decrypting — e.g. whether a pupil has a disability, not which."""

    def __init__(
        self, *args: Any, source: str = "", false_values: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        self.source = source
        self.false_values = tuple(false_values)
        kwargs.setdefault("default", False)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["false_values"] = self.false_values
        for key, default in (("default", False), ("editable", False)):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,)

    def derive(self, value: Any) -> bool:
        return value is not None and str(value) not in self.false_values

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        return derive_on(self, model_instance)


def derive_on(field: Any, instance: Any) -> Any:
    """Compute a derived field (``sources`` → ``derive``) on ``instance`` and set it."""
    value = field.derive(*(getattr(instance, name) for name in field.sources))
    setattr(instance, field.attname, value)
    return value


#: Keys of JSON documents (change requests' facts, guardians' requests) whose values are personal identifiers or
#: sensitive attributes, sealed by :class:`SealedJSONField` wherever they appear.
SENSITIVE_KEYS = (
    "address",
    "current_address",
    "disability_level",
    "disability_type",
    "evidence",
    "evidence_ref",  # e.g. the number of a disability certificate (残疾人证号 = the ID number + category, level)
    "health",
    "home_address",
    "id_number",
    "mailing_address",
    "phone",
    "reason_text",  # free text: a suspension's or a deferral's reason may name an illness
    "student_number",
)


def normalise(how: str, value: Any) -> str:
    """The form a value is indexed in: ``upper`` (ID numbers, 学籍号), ``digits`` (phones), ``strip``."""
    text = str(value or "").strip()
    if how == "upper":
        return text.upper()
    if how == "digits":
        return "".join(ch for ch in text if ch.isdigit())
    return text


def index_for(model: type[models.Model], field_name: str, value: Any) -> str:
    """The blind index that ``model.<field_name>_bidx`` holds for ``value`` (for ``filter(..._bidx=...)``)."""
    field: Any = model._meta.get_field(f"{field_name}_bidx")
    return str(field.index_of(value))


def prepare_rows(
    model: type[models.Model], rows: Any, columns: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for a raw INSERT (:func:`xueji.core.bulk.insert_rows`), as ``save()`` would write them: derived
    columns (blind indexes, flags) computed from the plaintext, then encrypted columns encrypted with their row's
    primary key as associated data."""
    meta = model._meta
    encrypted = [f for f in meta.concrete_fields if getattr(f, "encrypted", False) and f.attname in columns]
    sealed = [f for f in meta.concrete_fields if isinstance(f, SealedJSONField) and f.attname in columns]
    derived = [
        f
        for f in meta.concrete_fields
        if hasattr(f, "derive")
        and all(name in columns for name in f.sources)  # type: ignore[attr-defined]
        and f.attname not in columns
    ]
    if not encrypted and not derived and not sealed:
        return list(rows), columns
    pk = meta.pk.attname  # type: ignore[union-attr]
    table = meta.db_table
    plans = [(f.attname, key_name(f), f"{table}.{f.column}:", f) for f in encrypted]

    def row_id(r: dict[str, Any], f: Any) -> Any:
        return "|".join(str(r[name]) for name in f.bind) if f.bind else r[pk]

    out = []
    for row in rows:
        r = dict(row)
        for f in derived:
            r[f.attname] = f.derive(*(r[name] for name in f.sources))  # type: ignore[attr-defined]
        for attname, name, aad, f in plans:
            value = r[attname]
            if value is not None and value != "":
                r[attname] = encrypt_text(name, f"{aad}{row_id(r, f)}", f.to_plaintext(value))  # type: ignore[attr-defined]
        for f in sealed:
            r[f.attname] = f.seal(r[f.attname], r[pk])
        out.append(r)
    return out, columns + [f.attname for f in derived]


def encrypted_fields() -> list[models.Field]:
    """Every encrypted column of every installed model (concrete models only)."""

    out: list[models.Field] = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        out.extend(
            f
            for f in model._meta.concrete_fields
            if getattr(f, "encrypted", False) or isinstance(f, SealedJSONField)
        )
    return out


def ensure_data_keys(using: str = "default", **_: Any) -> list[str]:
    """Create version 1 of the data key of every encrypted column that has none (run after ``migrate``)."""
    created: list[str] = []
    model = _data_key_model()
    if model._meta.db_table not in connections[using].introspection.table_names():
        return created  # a partial migrate that has not reached core yet: nothing to key
    keys = model.objects.using(using)
    for field in encrypted_fields():
        name = key_name(field)
        if not keys.filter(name=name).exists():
            keys.create(
                name=name,
                version=1,
                state=_data_key_model().State.ACTIVE,
                wrapped=wrapper().wrap(name, 1, os.urandom(KEY_BYTES)),
            )
            created.append(name)
    keyring.reset()
    return created


# --- rotation, upgrade and re-wrapping (``manage.py data_keys``) ------------------------------------------------


def _field_key_names() -> dict[str, models.Field]:
    return {key_name(f): f for f in encrypted_fields()}


def _stale_q(field: models.Field, versions: list[int] | None) -> models.Q:
    """Rows of ``field``'s table whose value is not (only) under the active key: under one of ``versions``, or
    (``versions`` None) anything not yet under the active version, plaintext left from before included."""

    name = field.attname
    if isinstance(field, SealedJSONField):
        if versions is None:
            return models.Q()  # plaintext under a sensitive key cannot be told apart in SQL: every row
        q = models.Q(pk__in=[])
        as_text = field.model._default_manager.annotate(_text=Cast(name, TextField()))  # type: ignore[union-attr]
        for v in versions:
            q |= models.Q(pk__in=as_text.filter(_text__contains=f"{PREFIX}{v}:").values("pk"))
        return q
    if versions is None:
        active = keyring.active(key_name(field))[0]
        return (
            ~models.Q(**{f"{name}__startswith": f"{PREFIX}{active}:"})
            & ~models.Q(**{name: ""})
            & models.Q(**{f"{name}__isnull": False})
        )
    q = models.Q(pk__in=[])
    for v in versions:
        q |= models.Q(**{f"{name}__startswith": f"{PREFIX}{v}:"})
    return q


def reencrypt(field: models.Field, *, versions: list[int] | None = None, batch: int = 1000) -> int:
    """Re-encrypt, in batches of ``batch`` rows each in its own transaction (the system keeps running), every
    row of ``field`` still under one of ``versions`` (None: not under the active version — an upgrade from
    plaintext), recomputing its blind indexes and flags. Returns the number of rows written."""

    model = field.model
    assert model is not None
    if getattr(model, "append_only", False):
        # An append-only table (the record history) is never rewritten: its rows keep the key they were written
        # under, which therefore stays readable (``retiring``) and is never erased.
        return 0
    derived = [f.name for f in model._meta.concrete_fields if hasattr(f, "derive")]
    stale = _stale_q(field, versions)
    written, last = 0, None
    while True:
        with transaction.atomic():
            qs = model._default_manager.filter(stale).order_by("pk")
            if last is not None:
                qs = qs.filter(pk__gt=last)
            rows = list(qs.select_for_update()[:batch])
            for row in rows:
                getattr(row, field.attname)  # decrypt under the old key before the new one encrypts
                # Model.save of the concrete class (not DerivedFieldsMixin's: the derived list is complete).
                models.Model.save(row, update_fields=[field.name, *derived])
        if not rows:
            return written
        written += len(rows)
        last = rows[-1].pk


def retire_grace() -> float:
    """Seconds a version stays ``retiring`` before :func:`retire` may erase it: longer than any process keeps its
    idea of the active version (:data:`ACTIVE_TTL_SECONDS`) plus the longest transaction that may still commit
    values encrypted under it (a large import). ``XUEJI_KEY_RETIRE_GRACE_SECONDS``, default one hour."""
    return float(getattr(settings, "XUEJI_KEY_RETIRE_GRACE_SECONDS", 3600))


def rotate(name: str, *, batch: int = 1000) -> dict[str, Any]:
    """Rotate the data key of column ``name``: a new active version, the old ones ``retiring`` (still read) from
    now, and every row re-encrypted under the new one in batches. Nothing is erased here: other processes may
    still write under an old version for up to :data:`ACTIVE_TTL_SECONDS`, and a long transaction may commit such
    values later — :func:`retire`, after :func:`retire_grace`, re-encrypts those and only then erases."""

    field = _field_key_names().get(name)
    if field is None:
        raise ValueError(f"unknown encrypted column {name}")
    keys = _data_key_model()
    now = timezone.now()
    with transaction.atomic():
        current = list(keys.objects.select_for_update().filter(name=name).order_by("version"))
        version = (current[-1].version if current else 0) + 1
        keys.objects.filter(name=name, state=keys.State.ACTIVE).update(
            state=keys.State.RETIRING, retiring_since=now
        )
        keys.objects.create(
            name=name,
            version=version,
            state=keys.State.ACTIVE,
            wrapped=wrapper().wrap(name, version, os.urandom(KEY_BYTES)),
        )
    keyring.reset()
    old = list(keys.objects.filter(name=name, state=keys.State.RETIRING).values_list("version", flat=True))
    written = reencrypt(field, versions=old, batch=batch)
    model = field.model
    assert model is not None
    left = model._default_manager.filter(_stale_q(field, old)).count()
    return {"name": name, "version": version, "rewritten": written, "left": int(left), "at": now}


def retire(name: str, *, batch: int = 1000, passes: int = 1, grace: float | None = None) -> int:
    """Re-encrypt what is still under the retiring versions of ``name`` (``passes`` times), then erase those that
    have been retiring for longer than ``grace`` seconds (default :func:`retire_grace`) if no row uses them any
    more. Returns the rows still under retiring versions (0 and nothing retiring: done)."""

    field = _field_key_names()[name]
    keys = _data_key_model()
    old = list(keys.objects.filter(name=name, state=keys.State.RETIRING).values_list("version", flat=True))
    if not old:
        return 0
    for _ in range(passes):
        reencrypt(field, versions=old, batch=batch)
    model = field.model
    assert model is not None
    left = model._default_manager.filter(_stale_q(field, old)).count()
    if left == 0:
        cutoff = timezone.now() - timedelta(seconds=retire_grace() if grace is None else grace)
        due = models.Q(retiring_since__lte=cutoff) | models.Q(retiring_since__isnull=True)
        keys.objects.filter(due, name=name, version__in=old).update(
            state=keys.State.RETIRED, wrapped=b"", retired_at=timezone.now()
        )
        keyring.reset()
    return int(left)


def needs_upgrade() -> bool:
    """Whether rows written before encryption at rest remain: a blind index left empty where its source column
    holds a value (one indexed probe per blind-indexed model)."""
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, BlindIndexField):
                source: Any = model._meta.get_field(f.source)
                empty = model._default_manager.filter(**{f.attname: ""}).exclude(**{source.attname: ""})
                if empty.exclude(**{f"{source.attname}__isnull": True}).exists():
                    return True
    return False


def encrypt_existing(*, batch: int = 1000) -> dict[str, int]:
    """After an upgrade: encrypt every value still stored in clear and fill the blind indexes and flags."""
    ensure_data_keys()
    return {name: reencrypt(field, versions=None, batch=batch) for name, field in _field_key_names().items()}


def rewrap(new_wrapper: Any) -> int:
    """Re-wrap every data key under a new master key (or module): unwrap with the configured wrapper, wrap with
    ``new_wrapper``, in one transaction. The data itself is untouched."""

    old = wrapper()
    count = 0
    with transaction.atomic():
        for row in _data_key_model().objects.select_for_update().exclude(wrapped=b""):
            key = old.unwrap(row.name, row.version, bytes(row.wrapped))
            row.wrapped = new_wrapper.wrap(row.name, row.version, key)
            row.save(update_fields=["wrapped"])
            count += 1
    keyring.reset()
    return count


class FileMasterKeyWrapper(MasterKeyWrapper):
    """A :class:`MasterKeyWrapper` over a given key file (the target of a re-wrap)."""

    def __init__(self, path: str) -> None:
        self._key = _hex_key(Path(path).read_text(encoding="ascii"), path, KEY_BYTES)

    def master(self) -> bytes:
        return self._key
