"""Encryption of export files and keyed pseudonyms (第24条; security.md §2.3; GB/T 39786 密评: SM4, SM3).

* Each file is encrypted with SM4-GCM (``cryptography``: ``algorithms.SM4`` + ``modes.GCM``) under a fresh
  random 128-bit key; that key is wrapped (SM4-GCM again) by the export key-encryption key, with the export's
  id as associated data, so a wrapped key moved to another export does not open. The KEK is
  ``settings.XUEJI_EXPORT_KEY`` (any string; HKDF-SM3 derives the key) or, when that is empty (development),
  derived from ``SECRET_KEY`` by HKDF-SM3 with its own label.
* A file on disk is ``MAGIC ‖ nonce(12) ‖ ciphertext ‖ tag(16)``; decryption verifies the tag before a single
  byte is handed out.
* A pseudonym is ``HMAC-SM3(k_export, value)`` (keyed: an unkeyed hash of an ID number is brute-forced in
  hours, security.md §2.3); ``k_export`` is random per export and destroyed once the file is written.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from xueji.core.errors import ApplicationError

MAGIC = b"XJEXP1"
NONCE = 12
TAG = 16
CHUNK = 1 << 20
PSEUDONYM_KEY_BYTES = 32


class DecryptionFailed(ApplicationError):
    status = 500


def kek() -> bytes:
    """The 128-bit export key-encryption key (HKDF-SM3 of the configured secret)."""
    configured = str(getattr(settings, "XUEJI_EXPORT_KEY", "") or "")
    secret = configured.encode() if configured else settings.SECRET_KEY.encode()
    label = b"xueji.exports.kek" if configured else b"xueji.exports.kek:from-secret-key"
    return HKDF(hashes.SM3(), 16, None, label).derive(secret)


def new_file_key() -> bytes:
    return secrets.token_bytes(16)


def new_pseudonym_key() -> bytes:
    return secrets.token_bytes(PSEUDONYM_KEY_BYTES)


def wrap(key: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    enc = Cipher(algorithms.SM4(kek()), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return nonce + enc.update(key) + enc.finalize() + enc.tag


def unwrap(blob: bytes, aad: bytes) -> bytes:
    nonce, body, tag = blob[:NONCE], blob[NONCE:-TAG], blob[-TAG:]
    try:
        dec = Cipher(algorithms.SM4(kek()), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(body) + dec.finalize()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(
            "export_key_invalid", "导出文件密钥无法解开（密钥已更换或数据被篡改）"
        ) from exc


def encrypt_file(plain: Path, target: Path, key: bytes, aad: bytes) -> None:
    """Encrypt ``plain`` into ``target`` (created 0600, never overwritten)."""
    nonce = secrets.token_bytes(NONCE)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, plain.open("rb") as src:
        out.write(MAGIC + nonce)
        while chunk := src.read(CHUNK):
            out.write(enc.update(chunk))
        out.write(enc.finalize())
        out.write(enc.tag)


def decrypt_file(source: Path, out: IO[bytes], key: bytes, aad: bytes) -> None:
    """Decrypt ``source`` into ``out`` and verify the tag; raises :class:`DecryptionFailed` on any mismatch
    (the caller discards ``out`` then)."""
    size = source.stat().st_size
    head = len(MAGIC) + NONCE
    if size < head + TAG:
        raise DecryptionFailed("export_file_invalid", "导出文件已损坏")
    with source.open("rb") as src:
        if src.read(len(MAGIC)) != MAGIC:
            raise DecryptionFailed("export_file_invalid", "导出文件已损坏")
        nonce = src.read(NONCE)
        src.seek(size - TAG)
        tag = src.read(TAG)
        src.seek(head)
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        remaining = size - head - TAG
        while remaining > 0:
            chunk = src.read(min(CHUNK, remaining))
            remaining -= len(chunk)
            out.write(dec.update(chunk))
        try:
            out.write(dec.finalize())
        except InvalidTag as exc:
            raise DecryptionFailed("export_file_invalid", "导出文件已损坏或被篡改") from exc


#: Letters only (no digits, no I/L/O): a pseudonym can never look like an ID number, a 学籍号 or a phone.
PSEUDONYM_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ"
PSEUDONYM_LENGTH = 14  # 23^14 ≈ 2^63


def pseudonym(key: bytes, value: str) -> str:
    """The keyed pseudonym of ``value`` within one export: 64 bits of HMAC-SM3(k_export, value) written in
    :data:`PSEUDONYM_ALPHABET` (14 letters)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(value.encode())
    number = int.from_bytes(mac.finalize()[:8], "big")
    letters = []
    for _ in range(PSEUDONYM_LENGTH):
        number, digit = divmod(number, len(PSEUDONYM_ALPHABET))
        letters.append(PSEUDONYM_ALPHABET[digit])
    return "".join(letters)
