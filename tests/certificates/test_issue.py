"""Issuing electronic certificates (第19条): who may issue what, for whom; both proofs verify; refusals write
nothing; audit without personal data."""

from __future__ import annotations

import json

import pytest

from tests.certificates.conftest import DAY, graduate
from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.certificates import conf, proofs, services
from xueji.certificates.enums import EVENT_ISSUED, Result
from xueji.certificates.models import Certificate, StatusList
from xueji.changes.models import ChangeRequest
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import Conflict, FieldError, Forbidden, NotFound

pytestmark = pytest.mark.django_db


def _methods() -> dict[str, str]:
    keys = services.key_set()
    return {m["id"]: m["publicKeyMultibase"] for i in keys["issuers"] for m in i["verificationMethod"]}


def test_issue_graduation_verifies_with_both_proofs(env, graduated):
    """第19条: the department issues; the credential is a VC 2.0 with an eddsa-jcs-2022 and an sm2-jcs-2026
    proof, each valid on its own."""
    cert = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    vc = cert.credential
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["type"] == ["VerifiableCredential", "XuejiGraduationCertificate"]
    assert vc["issuer"]["id"] == conf.issuer_id("440000")
    assert vc["credentialSubject"]["achievement"]["date"] == "2026-06-15"
    assert vc["credentialSubject"]["issuingDepartment"] == env["primary"].supervising_dept.name
    suites = sorted(p["cryptosuite"] for p in vc["proof"])
    assert suites == ["eddsa-jcs-2022", "sm2-jcs-2026"]
    resolve = _methods().get
    assert all(proofs.verify_proof(vc, p, resolve=resolve) for p in vc["proof"])
    assert services.verify_online(vc).result == Result.VALID
    assert "validUntil" not in vc  # a diploma does not expire


def test_credential_and_audit_carry_no_id_number_or_student_number(env, graduated):
    """第24条: neither the credential nor the audit event holds the ID number or 学籍号; the audit holds no
    name either."""
    person = graduated.person
    cert = services.certificate_issue(actor=env["county"], person_id=person.pk, kind="graduation")
    text = json.dumps(cert.credential, ensure_ascii=False)
    assert person.id_number not in text and person.student_number not in text
    event = AuditEvent.objects.get(event_type=EVENT_ISSUED)
    dumped = json.dumps([event.summary, event.after, event.before], ensure_ascii=False)
    assert person.name not in dumped and person.id_number not in dumped
    assert event.subject_id == str(person.pk) and event.actor_id == env["county"].pk


@pytest.mark.parametrize("kind", ["completion", "incomplete"])
def test_completion_and_incomplete_certificates(env, kind):
    """第19条: 结业 (08) and 肄业 (09) of 普通高中, approved by the county, get their own certificates."""
    senior = c.enrolled(f.school("440105", "senior"), grade=12)
    reg = f.registrar(senior.school)
    req = change_submit(actor=reg, kind=kind, enrollment=senior, facts={}, today=DAY)
    change_decide(
        actor=env["county"], request=ChangeRequest.objects.get(pk=req.pk), action="approve", today=DAY
    )
    cert = services.certificate_issue(actor=env["county"], person_id=senior.person_id, kind=kind)
    assert services.verify_online(cert.credential).result == Result.VALID
    # the wrong kind for this status is refused
    with pytest.raises(Conflict) as exc:
        services.certificate_issue(actor=env["county"], person_id=senior.person_id, kind="graduation")
    assert exc.value.code == "status_mismatch"


def test_leaving_certificate_needs_the_leaving_status(env):
    """第19条: no 毕业证书 for a student still in school."""
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises(Conflict) as exc:
        services.certificate_issue(actor=env["county"], person_id=e.person_id, kind="graduation")
    assert exc.value.code == "status_mismatch"
    assert Certificate.objects.count() == 0 and StatusList.objects.count() == 0


def test_one_live_leaving_certificate_reissue_after_revocation(env, graduated):
    first = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    with pytest.raises(Conflict):
        services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    services.certificate_revoke(actor=env["county"], certificate=first, reason="证书信息有误")
    second = services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    assert second.pk != first.pk and second.status_index != first.status_index


def test_school_registrar_may_issue_enrollment_proofs_of_its_own_students_only(env):
    """Decision (docs/certificates.md): a school registrar requests 在读证明 for its own students; leaving
    certificates are the department's (第19条)."""
    e = c.enrolled(env["primary"], grade=3)
    proof = services.certificate_issue(actor=env["reg_p"], person_id=e.person_id, kind="enrollment")
    assert proof.credential["credentialSubject"]["enrollment"]["grade"]
    assert "validUntil" in proof.credential
    assert services.verify_online(proof.credential).result == Result.VALID
    g = graduate(env, c.enrolled(env["primary"], grade=6))
    with pytest.raises(Forbidden):
        services.certificate_issue(actor=env["reg_p"], person_id=g.person_id, kind="graduation")
    assert not Certificate.objects.filter(person_id=g.person_id).exists()


def test_out_of_scope_is_not_found_and_writes_nothing(env, graduated):
    """第5、23条: another county's registrar, another school's registrar: 404, nothing written."""
    before = (Certificate.objects.count(), StatusList.objects.count(), AuditEvent.objects.count())
    for actor, kind in ((env["county_other"], "graduation"), (env["reg_other"], "enrollment")):
        with pytest.raises(NotFound):
            services.certificate_issue(actor=actor, person_id=graduated.person_id, kind=kind)
    assert (Certificate.objects.count(), StatusList.objects.count(), AuditEvent.objects.count()) == before


def test_enrollment_proof_needs_an_active_enrollment(env, graduated):
    with pytest.raises(Conflict) as exc:
        services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="enrollment")
    assert exc.value.code == "not_enrolled"


def test_bad_kind_names_the_field(env, graduated):
    with pytest.raises(FieldError) as exc:
        services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="diploma")
    assert exc.value.field == "kind" and "证书类型" in exc.value.message


def test_no_issuer_key_is_refused_clearly(env, graduated):
    from xueji.certificates.models import IssuerKey

    IssuerKey.objects.all().delete()
    with pytest.raises(Conflict) as exc:
        services.certificate_issue(actor=env["county"], person_id=graduated.person_id, kind="graduation")
    assert exc.value.code == "no_issuer_key" and Certificate.objects.count() == 0
