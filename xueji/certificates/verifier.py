"""Standalone offline verifier of xueji certificates — no Django, no network (issue 12 §2, security.md §4).

Usage::

    python -m xueji.certificates.verifier CREDENTIAL.json --keys keys.json [--qr TEXT] [--now 2030-01-01T00:00:00Z]

``keys.json`` is the pinned key set an issuer publishes (``manage.py certificate_keys export`` or
``/v/issuers/keys.json``): the issuers with their Multikey verification methods and each key's validity window,
and the signed status lists (BitstringStatusListCredential) at the time of export. Prints one JSON object,
``{"result": …, "detail": …, "status_checked": …}``; exit status 0 when ``valid``, 1 otherwise, 2 on bad usage.

Steps, each a test (tests/certificates/): (1) parse and schema-check; (2) resolve each proof's key from the
pinned set — the key must belong to the credential's issuer and be valid at ``validFrom``; (3) recompute the
JCS hashes and verify BOTH proofs (eddsa-jcs-2022 and sm2-jcs-2026); (4) the validity window; (5) the status
bit in the issuer's signed status list; (6) one result from the closed set
valid / revoked / expired / bad-signature / unknown-issuer.

This is an independent path from the online check (:func:`xueji.certificates.services.verify_online`, which
resolves keys and status bits from the database); both share only the cryptographic primitives of
:mod:`xueji.certificates.proofs`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import compact, proofs, statuslist

VALID = "valid"
REVOKED = "revoked"
EXPIRED = "expired"
BAD_SIGNATURE = "bad-signature"
UNKNOWN_ISSUER = "unknown-issuer"
RESULTS = (VALID, REVOKED, EXPIRED, BAD_SIGNATURE, UNKNOWN_ISSUER)

VC_V2 = "https://www.w3.org/ns/credentials/v2"
REQUIRED_SUITES = frozenset({proofs.EDDSA_JCS, proofs.SM2_JCS})
#: The credential types of the certificate kinds (``enums.CREDENTIAL_TYPE``, repeated here: no Django).
CERTIFICATE_TYPES = frozenset(
    {
        "XuejiGraduationCertificate",
        "XuejiCompletionCertificate",
        "XuejiIncompleteCertificate",
        "XuejiEnrollmentProof",
    }
)
#: Untrusted JSON: at most this nesting of objects/arrays (our credentials nest 4 deep) and this many bytes.
MAX_DEPTH = 16
MAX_JSON_BYTES = 256 * 1024


class Malformed(ValueError):
    """The document is not a well-formed credential of ours (→ bad-signature: it is not what was signed)."""


class UntrustedJSONError(ValueError):
    """Untrusted JSON refused before or while parsing: too large, nested too deep, a duplicate member name, or
    a non-standard constant (NaN/Infinity)."""


#: A JSON string, or an unterminated one running to the end: it always matches where it starts (no retry from
#: every later quote, so the scan stays linear on hostile input).
_STRING = re.compile(r'"(?:[^"\\]+|\\.)*(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise UntrustedJSONError(f"duplicate member {key[:40]!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise UntrustedJSONError(f"non-standard constant {name}")


def loads_untrusted(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse an untrusted credential (or key set): the nesting depth is measured *before* parsing (so neither
    the parser nor the recursive JCS canonicalisation can exhaust the stack), duplicate member names and
    NaN/Infinity are refused (two readers of one document must not see different values). Raises
    :class:`UntrustedJSONError` (a ValueError) on anything refused or malformed."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UntrustedJSONError(f"not UTF-8: {exc.reason}") from None
    if len(text) > MAX_JSON_BYTES:
        raise UntrustedJSONError("document too large")
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > max_depth:
            raise UntrustedJSONError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except RecursionError:  # unreachable after the depth scan; kept as a last line of defence
        raise UntrustedJSONError("nested too deep") from None
    except UntrustedJSONError:
        raise
    except ValueError as exc:
        raise UntrustedJSONError(f"not JSON: {exc}") from None


@dataclass
class Verification:
    result: str
    detail: str = ""
    status_checked: bool = False
    credential_id: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "detail": self.detail,
            "status_checked": self.status_checked,
            "credential_id": self.credential_id,
            **self.info,
        }


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise Malformed("date-time missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"bad date-time {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise Malformed("date-time without a time zone")
    return parsed


def issuer_id(document: Mapping[str, Any]) -> str:
    issuer = document.get("issuer")
    value = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not isinstance(value, str) or not value:
        raise Malformed("issuer missing")
    return value


def revocation_entry(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one ``credentialStatus`` entry of a certificate: a BitstringStatusListEntry with purpose revocation,
    a list URL and a decimal index. A certificate without one (or with several, or with a list) is not ours:
    a document whose revocation cannot be checked must never read valid."""
    status = document.get("credentialStatus")
    if not isinstance(status, Mapping):
        raise Malformed("credentialStatus must be one BitstringStatusListEntry")
    if status.get("type") != statuslist.ENTRY_TYPE or status.get("statusPurpose") != statuslist.PURPOSE:
        raise Malformed("credentialStatus must be a revocation BitstringStatusListEntry")
    url, index = status.get("statusListCredential"), status.get("statusListIndex")
    if not isinstance(url, str) or not url:
        raise Malformed("credentialStatus.statusListCredential missing")
    if not isinstance(index, str) or not index.isdecimal() or len(index) > 7:
        raise Malformed("credentialStatus.statusListIndex must be a decimal string")
    return status


def check_shape(document: Any, *, status_list: bool = False) -> list[Mapping[str, Any]]:
    """Step 1: a VC 2.0 document with the two proofs of our proof set; returns the proofs.

    A certificate's ``type`` names exactly one certificate type (and no status-list type) and it carries
    exactly one revocation status entry (:func:`revocation_entry`); a status list's ``type`` names
    BitstringStatusListCredential and no certificate type — so one can never pass for the other, though both
    are signed by the same issuer key."""
    if not isinstance(document, Mapping):
        raise Malformed("not a JSON object")
    context = document.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_V2:
        raise Malformed("@context must start with the VC 2.0 context")
    types = document.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise Malformed("type must include VerifiableCredential")
    kinds = [t for t in types if t in CERTIFICATE_TYPES]
    if status_list:
        if statuslist.CREDENTIAL_TYPE not in types or kinds:
            raise Malformed("not a BitstringStatusListCredential")
        if "credentialStatus" in document:
            raise Malformed("a status list has no credentialStatus")
    else:
        if len(kinds) != 1 or statuslist.CREDENTIAL_TYPE in types:
            raise Malformed("type must name exactly one certificate type")
        revocation_entry(document)
    if not isinstance(document.get("id"), str):
        raise Malformed("id missing")
    issuer_id(document)
    if not isinstance(document.get("credentialSubject"), Mapping):
        raise Malformed("credentialSubject missing")
    parse_time(document.get("validFrom"))
    if "validUntil" in document:
        parse_time(document["validUntil"])
    found = proofs.proofs_of(document)
    raw = document.get("proof")
    if not isinstance(raw, list) or len(found) != len(raw) or len(found) != 2:
        raise Malformed("the proof set must hold exactly two proofs")
    if {str(p.get("cryptosuite")) for p in found} != REQUIRED_SUITES:
        raise Malformed("the proof set must hold one eddsa-jcs-2022 and one sm2-jcs-2026 proof")
    return found


class KeySet:
    """A pinned key set: issuers → verification methods with validity windows, and signed status lists."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.methods: dict[str, dict[str, Any]] = {}
        self.issuer_names: dict[str, str] = {}
        for issuer in data.get("issuers", []):
            iid = str(issuer["id"])
            self.issuer_names[iid] = str(issuer.get("name", ""))
            for method in issuer.get("verificationMethod", []):
                self.methods[str(method["id"])] = {**method, "controller": iid}
        self.status_lists: dict[str, Mapping[str, Any]] = {
            str(c.get("id")): c for c in data.get("statusLists", []) if isinstance(c, Mapping)
        }

    def method(self, method_id: str) -> dict[str, Any] | None:
        return self.methods.get(method_id)

    def kid_key(self, kid: str, suffix: str = "ed25519") -> dict[str, Any] | None:
        for mid, method in self.methods.items():
            if mid.endswith(f"#{kid}-{suffix}"):
                return method
        return None


def key_valid_at(method: Mapping[str, Any], when: datetime) -> bool:
    try:
        start = parse_time(method.get("validFrom"))
        end = parse_time(method["validUntil"]) if method.get("validUntil") else None
    except Malformed:
        return False
    return start <= when and (end is None or when < end)


def _check_proofs(document: Mapping[str, Any], found: list[Mapping[str, Any]], keys: KeySet) -> str | None:
    """Steps 2–3; None when both proofs verify, else the failing result."""
    iid = issuer_id(document)
    valid_from = parse_time(document.get("validFrom"))
    resolved: dict[str, str] = {}
    for proof in found:
        method_id = str(proof.get("verificationMethod", ""))
        method = keys.method(method_id)
        if method is None or method["controller"] != iid or not key_valid_at(method, valid_from):
            return UNKNOWN_ISSUER
        resolved[method_id] = str(method.get("publicKeyMultibase", ""))
    for proof in found:
        if not proofs.verify_proof(document, proof, resolve=resolved.get):
            return BAD_SIGNATURE
    return None


def verify(document: Any, keys: KeySet, *, now: datetime | None = None) -> Verification:
    now = now or datetime.now(UTC)
    try:
        found = check_shape(document)
        failure = _check_proofs(document, found, keys)
    except (Malformed, TypeError, KeyError, ValueError) as exc:
        return Verification(BAD_SIGNATURE, f"malformed: {exc}")
    credential_id = str(document["id"])
    if failure is not None:
        return Verification(failure, "proof check failed", credential_id=credential_id)
    valid_from = parse_time(document["validFrom"])
    if valid_from > now:
        return Verification(EXPIRED, "not valid yet (validFrom in the future)", credential_id=credential_id)
    if "validUntil" in document and parse_time(document["validUntil"]) < now:
        return Verification(EXPIRED, "past validUntil", credential_id=credential_id)
    # Step 5. Fail closed: without the issuer's current signed list the revocation state is unknown, and a
    # document whose state is unknown is never "valid" (unknown-issuer, as the online check answers when the
    # list is not the issuer's; the detail says what to do).
    entry = revocation_entry(document)
    url = str(entry["statusListCredential"])
    listed = keys.status_lists.get(url)
    if listed is None:
        return Verification(
            UNKNOWN_ISSUER,
            f"status list {url} not in the key set: revocation cannot be checked; export a fresh keys.json",
            credential_id=credential_id,
        )
    try:
        list_found = check_shape(listed, status_list=True)
        if issuer_id(listed) != issuer_id(document) or str(listed.get("id")) != url:
            raise Malformed("status list of another issuer")
        if _check_proofs(listed, list_found, keys) is not None:
            raise Malformed("status list signature")
        subject = listed["credentialSubject"]
        if subject.get("statusPurpose") != statuslist.PURPOSE:
            raise Malformed("not a revocation list")
        bits = statuslist.decode(str(subject["encodedList"]))
        revoked = statuslist.get_bit(bits, int(str(entry["statusListIndex"])))
        list_until = parse_time(listed["validUntil"]) if "validUntil" in listed else None
    except (Malformed, TypeError, KeyError, ValueError, IndexError) as exc:
        return Verification(BAD_SIGNATURE, f"status list invalid: {exc}", credential_id=credential_id)
    if revoked:  # a revocation stays a revocation, however old the list that shows it
        return Verification(REVOKED, "status bit set", True, credential_id)
    if list_until is None or list_until < now:
        return Verification(
            UNKNOWN_ISSUER,
            f"status list {url} past its validUntil: revocation state unknown; export a fresh keys.json",
            credential_id=credential_id,
        )
    return Verification(VALID, "", True, credential_id)


def masked_name(name: str) -> str:
    """张*明: the first and last character, the rest masked (第24条 minimisation)."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def subject_summary(document: Mapping[str, Any]) -> dict[str, str]:
    """What a verifier compares with the paper in hand: the masked name, the school, the kind and the date of
    the certificate (the leaving date, or the as-of date of an enrolment proof) — never an ID number or 学籍号.
    Only for a document whose proofs verified (never for a forged one)."""
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    school = subject.get("school")
    detail = subject.get("achievement") or subject.get("enrollment") or {}
    date = detail.get("date") or detail.get("asOf") if isinstance(detail, Mapping) else None
    kinds = [t for t in document.get("type", []) if t in CERTIFICATE_TYPES]
    return {
        "name": masked_name(str(subject.get("name", ""))),
        "school": str(school.get("name", "")) if isinstance(school, Mapping) else "",
        "kind": str(document.get("name", "")),
        "type": kinds[0] if kinds else "",
        "date": str(date or str(document.get("validFrom", ""))[:10]),
    }


def verify_qr(text: str, keys: KeySet, document: Mapping[str, Any] | None = None) -> Verification:
    """The QR payload: its signature under the issuer key it names, and (with the credential) its digest."""
    try:
        payload = compact.decode(compact.token_of(text))
    except (ValueError, UnicodeDecodeError) as exc:
        return Verification(BAD_SIGNATURE, f"malformed QR payload: {exc}")
    method = keys.kid_key(payload.kid)
    if method is None:
        return Verification(UNKNOWN_ISSUER, "QR key unknown")
    if not compact.signature_ok(payload, str(method.get("publicKeyMultibase"))):
        return Verification(BAD_SIGNATURE, "QR signature")
    if document is not None and compact.credential_digest(document) != payload.digest:
        return Verification(BAD_SIGNATURE, "QR does not belong to this credential")
    return Verification(VALID, "", credential_id=str(payload.certificate_id))


_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def load_document(data: bytes) -> Any:
    """The credential in ``data``: a JSON file, or a certificate PDF (PDF/A-3) whose attached
    ``credential.json`` is found among its (Flate) streams. None when there is none (→ bad-signature)."""
    if data.startswith(b"%PDF"):
        for match in _STREAM.finditer(data):
            raw = match.group(1)
            # A Flate stream may itself end in a CR byte (≈ 1 in 256), which the pattern takes for the line end
            # before "endstream": inflate from the stream's start up to "endstream" and let zlib stop at the
            # stream's own end (what follows it is left unused), so no last byte is lost.
            with contextlib.suppress(zlib.error):
                raw = zlib.decompressobj().decompress(data[match.start(1) : match.end()])
            if b"VerifiableCredential" in raw and b'"proof"' in raw:
                try:
                    return loads_untrusted(raw)
                except ValueError:
                    continue
        return None
    try:
        return loads_untrusted(data)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xueji.certificates.verifier", description=__doc__.split("\n")[0]
    )
    parser.add_argument("file", help="the credential (JSON) or the certificate PDF")
    parser.add_argument("--keys", required=True, help="the pinned key set (keys.json)")
    parser.add_argument("--qr", help="the QR text (URL) printed on the certificate, checked against the file")
    parser.add_argument("--now", help="verify as of this time (ISO 8601 with time zone)")
    args = parser.parse_args(argv)
    try:
        keys = KeySet(loads_untrusted(Path(args.keys).read_bytes(), max_depth=MAX_DEPTH))
        now = parse_time(args.now) if args.now else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read key set: {exc}", file=sys.stderr)
        return 2
    try:
        document = load_document(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    outcome = verify(document, keys, now=now)
    if args.qr and outcome.result == VALID:
        qr = verify_qr(args.qr, keys, document)
        if qr.result != VALID:
            outcome = qr
    if outcome.result in {VALID, REVOKED, EXPIRED} and isinstance(document, Mapping):
        outcome.info["subject"] = subject_summary(document)  # compare with the paper certificate
    print(json.dumps(outcome.as_dict(), ensure_ascii=False))
    return 0 if outcome.result == VALID else 1


if __name__ == "__main__":
    sys.exit(main())
