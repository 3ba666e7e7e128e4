"""The QR payload (≤ 400 bytes, signed, no ID number / 学籍号) and the PDF (WeasyPrint, PDF/A-3b, QR,
credential attached)."""

from __future__ import annotations

import json
import re
import zlib

import pytest
import segno

from xueji.certificates import compact, presenters, services, verifier
from xueji.certificates.enums import Result

pytestmark = pytest.mark.django_db

ID_LIKE = re.compile(r"[GJL]?\d{17}[\dXx]")


@pytest.fixture
def issued(env, graduated):
    return services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")


def test_qr_payload_is_small_signed_and_free_of_identifiers(issued, graduated):
    """security.md §4: ≤ 400 bytes; decodes back to the certificate it names; 0 ID-number or 学籍号 matches."""
    text = presenters.qr_text(issued)
    assert len(text.encode("utf-8")) <= 400
    person = graduated.person
    assert person.id_number not in text and person.student_number not in text and not ID_LIKE.search(text)
    payload = compact.decode(compact.token_of(text))
    assert payload.certificate_id == issued.pk and payload.kid == "440000-k1"
    assert payload.digest == compact.credential_digest(issued.credential)
    keys = verifier.KeySet(services.key_set())
    assert verifier.verify_qr(text, keys, issued.credential).result == Result.VALID
    # the QR symbol itself: segno encodes this exact text at a phone-friendly version
    qr = segno.make(text, error="m")
    assert qr.version <= 15
    assert qr.designator.endswith("M")


def test_a_tampered_qr_payload_is_rejected(issued):
    token = issued.qr_token
    raw = bytearray(compact.decode(token).signed + compact.decode(token).signature)
    raw[5] ^= 0x01  # another certificate id
    import base64

    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    keys = verifier.KeySet(services.key_set())
    assert verifier.verify_qr(forged, keys).result == Result.BAD_SIGNATURE
    verification, _cert = services.verify_qr_online(forged)
    assert verification.result == Result.BAD_SIGNATURE
    assert services.verify_qr_online("not-a-token")[0].result == Result.BAD_SIGNATURE


def _inflated(pdf: bytes) -> bytes:
    parts = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            parts.append(m.group(1))
    return b"".join(parts)


def test_pdf_renders_as_pdf_a_with_the_credential_attached(issued):
    """WeasyPrint PDF/A-3b (XMP pdfaid part 3, conformance B, an output intent), the signed credential attached
    as credential.json, which the offline verifier reads straight from the PDF."""
    pdf = presenters.certificate_pdf(issued)
    assert pdf.startswith(b"%PDF")
    inner = _inflated(pdf)
    assert re.search(rb'pdfaid:part="3"', inner) and re.search(rb'pdfaid:conformance="B"', inner)
    assert b"OutputIntent" in pdf + inner
    assert b"credential.json" in pdf + inner
    assert len(re.findall(rb"/Type\s*/Page\b", pdf + inner)) == 1  # one A4 sheet
    assert verifier.load_document(pdf) == issued.credential
    assert verifier.verify(verifier.load_document(pdf), verifier.KeySet(services.key_set())).result == "valid"


def test_rare_character_name_renders(env):
    """A name with a CJK Ext-B character (𠀀) renders (fallback font or the missing-glyph box, never an error)."""
    from tests.certificates.conftest import graduate
    from tests.factories import changes as c

    e = graduate(env, c.enrolled(env["primary"], grade=6, name="李𠀀"))
    cert = services.certificate_issue(actor=env["county"], person_id=e.person_id, kind="graduation")
    assert cert.credential["credentialSubject"]["name"] == "李𠀀"
    assert presenters.certificate_pdf(cert).startswith(b"%PDF")


def test_a_pdf_stream_ending_in_a_carriage_return_is_read_whole() -> None:
    """The offline verifier reads the credential out of the PDF's Flate stream (第19条 电子学籍证明): a compressed
    stream whose last byte is CR (0x0D) — about one PDF in 256 — must not lose that byte to the line end
    before ``endstream`` (it did: such a certificate failed offline as bad-signature)."""
    for i in range(4096):
        document = {"type": ["VerifiableCredential"], "proof": {"n": i}, "name": "x" * (i % 50)}
        stream = zlib.compress(json.dumps(document).encode())
        if stream[-1] == 0x0D:
            break
    else:  # pragma: no cover - one in 256 ends so
        raise AssertionError("no stream ending in CR found")
    pdf = b"%%PDF-1.7\n1 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\r\n" % len(stream)
    pdf += stream + b"\nendstream\nendobj\n%%EOF\n"  # LF before endstream, as WeasyPrint writes it
    assert verifier.load_document(pdf) == document
    # and a stream ending otherwise, with a bare LF line end, as before
    plain = zlib.compress(json.dumps({"type": ["VerifiableCredential"], "proof": {}}).encode())
    assert verifier.load_document(b"%PDF-1.7\nstream\n" + plain + b"\nendstream\n") == {
        "type": ["VerifiableCredential"],
        "proof": {},
    }
