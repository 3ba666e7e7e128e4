"""Issuing, revoking and verifying electronic certificates (第19条; issue 12 §2; security.md §4).

- Who issues (第19条 由学校主管教育行政部门负责为学生提供相应证书): a department registrar whose jurisdiction
  holds the student's school signs 毕业/结业/肄业 certificates and 在读证明. A school registrar may request (and
  print) a 在读证明 for a student of its own school — the proof is still signed by the province issuer in the
  name of the school's supervising department; the leaving certificates are the department's alone.
- Outside the actor's jurisdiction: :class:`~xueji.core.errors.NotFound` and nothing written.
- A certificate is signed by the province issuer's *current* key (keys per province, rotated with
  :func:`key_rotate`); its status bit sits at a random free index of the province's revocation status list.
- Every issue, revocation, download and key operation is audited without personal data (第24条).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, school_registrar_units
from xueji.accounts.types import Actor
from xueji.audit.services import record
from xueji.changes.models import ChangeRequest
from xueji.changes.workflow import RequestState
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.core.ids import uuid7
from xueji.regions.models import OrgUnit
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.students.enums import StudentStatus
from xueji.students.models import Enrollment
from xueji.students.queries import enrollment_get

from . import compact, conf, proofs, statuslist
from .enums import (
    CREDENTIAL_TYPE,
    EVENT_BATCH_QUEUED,
    EVENT_DOWNLOADED,
    EVENT_ISSUED,
    EVENT_KEY_CREATED,
    EVENT_KEY_ROTATED,
    EVENT_REVOKED,
    IN_SCHOOL_STATUSES,
    LEAVING_STATUS,
    BatchState,
    Kind,
    Result,
)
from .models import Certificate, CertificateBatch, IssuerKey, StatusList
from .verifier import Malformed, Verification, check_shape, issuer_id, parse_time, revocation_entry

STATUS_LIST_VALIDITY = timedelta(days=7)
#: A list takes new certificates until half its bits are used, so a random free index is found at once.
LIST_FILL = statuslist.LIST_BITS // 2


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now(now: datetime | None) -> datetime:
    return (now or timezone.now()).replace(microsecond=0)


def issuer_name(province_code: str) -> str:
    unit = OrgUnit.objects.filter(level="province", code=province_code).only("name").first()
    return unit.name if unit else province_code


def issuer_of(province_code: str) -> dict[str, str]:
    return {"id": conf.issuer_id(province_code), "name": issuer_name(province_code)}


def method_id(key: IssuerKey, suite: str) -> str:
    return (
        f"{conf.issuer_id(key.province_code)}#{key.kid}-{'ed25519' if suite == proofs.EDDSA_JCS else 'sm2'}"
    )


# --- keys -----------------------------------------------------------------------------------------------------


def current_key(province_code: str, *, lock: bool = False) -> IssuerKey:
    """The province issuer's signing key. ``lock``: the row locked (``SELECT … FOR UPDATE``) until the caller's
    transaction ends, so a concurrent :func:`key_rotate` (which locks the same row) waits for the signature
    instead of retiring the key under it — nothing is signed by a key already retired. If a rotation committed
    while we waited, the locked row no longer matches and the statement is repeated to find the new key."""
    query = IssuerKey.objects.filter(province_code=province_code, valid_until__isnull=True)
    key = None
    for _attempt in range(2 if lock else 1):
        key = (query.select_for_update() if lock else query).first()
        if key is not None:
            break
    if key is None:
        raise Conflict(
            "no_issuer_key",
            f"省级签发机构 {province_code} 尚未创建签发密钥（manage.py certificate_keys create --province {province_code}）",
        )
    return key


def _new_key(province_code: str, valid_from: datetime, made: list[str]) -> IssuerKey:
    """A new key: generated in the key store (its kid appended to ``made`` so that the caller can discard it if
    the transaction does not commit), its public halves in a new row."""
    if not (len(province_code) == 6 and province_code.isdigit() and province_code.endswith("0000")):
        raise FieldError("province", "invalid_province", "省级区划代码须为 6 位数字且以 0000 结尾")
    n = IssuerKey.objects.filter(province_code=province_code).count() + 1
    kid = f"{province_code}-k{n}"
    public = conf.keystore().generate(kid)
    made.append(kid)
    return IssuerKey.objects.create(
        kid=kid,
        province_code=province_code,
        ed25519_public=public.ed25519,
        sm2_public=public.sm2,
        valid_from=valid_from,
    )


@contextmanager
def _discard_on_failure() -> Iterator[list[str]]:
    """Private keys generated inside the block are destroyed when the block fails (its transaction rolls back):
    no orphan key file that would block the next ``create`` of the same kid. The block must hold its own
    ``transaction.atomic``; a rollback of an *outer* transaction after it returned is not seen here (the key
    commands run none)."""
    made: list[str] = []
    try:
        yield made
    except BaseException:
        store = conf.keystore()
        for kid in made:
            store.discard(kid)
        raise


def key_create(*, province_code: str, actor: Actor | None = None, now: datetime | None = None) -> IssuerKey:
    """The first key of a province issuer (refused when the province has one: rotate instead)."""
    with _discard_on_failure() as made, transaction.atomic():
        if IssuerKey.objects.filter(province_code=province_code).exists():
            raise Conflict("key_exists", f"{province_code} 已有签发密钥，请使用 rotate 轮换")
        key = _new_key(province_code, _now(now), made)
        record(
            event_type=EVENT_KEY_CREATED,
            actor=actor,
            subject_type="issuer_key",
            subject_id=key.kid,
            province_code=province_code,
            summary=f"创建签发密钥 {key.kid}",
        )
    return key


def key_rotate(*, province_code: str, actor: Actor | None = None, now: datetime | None = None) -> IssuerKey:
    """Rotation: the current key stops signing at ``now`` (it keeps verifying credentials whose ``validFrom``
    lies in its window), a new key signs from ``now``; the status lists are re-signed with the new key."""
    moment = _now(now)
    with _discard_on_failure() as made, transaction.atomic():
        old = IssuerKey.objects.select_for_update().filter(
            province_code=province_code, valid_until__isnull=True
        )
        previous = old.first()
        if previous is None:
            raise Conflict("no_issuer_key", f"{province_code} 尚无签发密钥，请先 create")
        previous.valid_until = moment
        previous.save(update_fields=["valid_until"])
        key = _new_key(province_code, moment, made)
        for status_list in StatusList.objects.select_for_update().filter(province_code=province_code):
            _publish(status_list, key, moment)
        record(
            event_type=EVENT_KEY_ROTATED,
            actor=actor,
            subject_type="issuer_key",
            subject_id=key.kid,
            province_code=province_code,
            summary=f"轮换签发密钥 {previous.kid} → {key.kid}",
        )
    return key


def sign(document: dict[str, Any], key: IssuerKey, created: str) -> dict[str, Any]:
    """The proof set (eddsa-jcs-2022 + sm2-jcs-2026) of ``document`` by ``key``, signed in the key store."""
    store = conf.keystore()
    made = [
        proofs.signed_proof(
            document,
            suite=suite,
            sign=lambda data, suite=suite: store.sign(key.kid, suite, data),  # type: ignore[misc]
            verification_method=method_id(key, suite),
            created=created,
        )
        for suite in (proofs.EDDSA_JCS, proofs.SM2_JCS)
    ]
    secured = {k: v for k, v in document.items() if k != "proof"}
    secured["proof"] = made  # always a proof SET (a list), even of one suite
    return secured


def key_set(province_codes: list[str] | None = None) -> dict[str, Any]:
    """The pinned key set for offline verifiers (``keys.json``): issuers, their keys with validity windows,
    and the signed status lists as of now."""
    keys = IssuerKey.objects.order_by("province_code", "valid_from")
    lists = StatusList.objects.order_by("province_code", "number")
    if province_codes:
        keys = keys.filter(province_code__in=province_codes)
        lists = lists.filter(province_code__in=province_codes)
    issuers: dict[str, dict[str, Any]] = {}
    for key in keys:
        issuer = issuers.setdefault(
            key.province_code, {**issuer_of(key.province_code), "verificationMethod": []}
        )
        for suite, public in ((proofs.EDDSA_JCS, key.ed25519_public), (proofs.SM2_JCS, key.sm2_public)):
            method: dict[str, Any] = {
                "id": method_id(key, suite),
                "type": "Multikey",
                "controller": issuer["id"],
                "publicKeyMultibase": public,
                "validFrom": iso(key.valid_from),
            }
            if key.valid_until:
                method["validUntil"] = iso(key.valid_until)
            issuer["verificationMethod"].append(method)
    return {
        "issuers": list(issuers.values()),
        "statusLists": [s.credential for s in lists if s.credential],
    }


# --- status lists ---------------------------------------------------------------------------------------------


def _publish(status_list: StatusList, key: IssuerKey, now: datetime) -> None:
    document = statuslist.list_credential(
        list_url=conf.list_url(status_list.province_code, status_list.number),
        issuer=issuer_of(status_list.province_code),
        bits=bytes(status_list.bits),
        valid_from=iso(now),
        valid_until=iso(now + STATUS_LIST_VALIDITY),
    )
    status_list.credential = sign(document, key, iso(now))
    status_list.signed_at = now
    status_list.save(update_fields=["bits", "used", "credential", "signed_at"])


def _allocate(province_code: str, key: IssuerKey, now: datetime) -> tuple[StatusList, int]:
    """A random free index of the province's open list (privacy: indexes do not reveal issue order)."""
    current = (
        StatusList.objects.select_for_update().filter(province_code=province_code).order_by("-number").first()
    )
    if current is None or current.used >= LIST_FILL:
        number = (current.number + 1) if current else 1
        current = StatusList.objects.create(
            province_code=province_code, number=number, bits=statuslist.empty()
        )
        _publish(current, key, now)
    taken = set(Certificate.objects.filter(status_list=current).values_list("status_index", flat=True))
    while True:
        index = secrets.randbelow(statuslist.LIST_BITS)
        if index not in taken:
            break
    current.used += 1
    current.save(update_fields=["used"])
    return current, index


@transaction.atomic
def status_lists_refresh(*, now: datetime | None = None) -> int:
    """Re-sign every status list with its province's current key (scheduled daily; the list credentials are
    valid for :data:`STATUS_LIST_VALIDITY`)."""
    moment = _now(now)
    n = 0
    for status_list in StatusList.objects.select_for_update().order_by("province_code", "number"):
        key = IssuerKey.objects.filter(
            province_code=status_list.province_code, valid_until__isnull=True
        ).first()
        if key is not None:
            _publish(status_list, key, moment)
            n += 1
    return n


# --- who may issue --------------------------------------------------------------------------------------------


def is_department_issuer(actor: Actor, school: School) -> bool:
    """第19条: the department registrar whose jurisdiction holds the school (its supervising department or one
    above it)."""
    path = school.org.path
    return any(g.role == Role.DEPT_REGISTRAR and path.startswith(g.org_unit.path) for g in data_grants(actor))


def is_own_school_registrar(actor: Actor, school: School) -> bool:
    units = {u.pk for u in school_registrar_units(actor)}
    return school.org_id in units or (
        school.central_school_id is not None and school.central_school_id in units
    )


def require_issuer(actor: Actor, school: School, kind: str) -> None:
    if is_department_issuer(actor, school):
        return
    if kind == Kind.ENROLLMENT and is_own_school_registrar(actor, school):
        return
    if kind == Kind.ENROLLMENT:
        raise Forbidden("not_certificate_issuer", "只有本校学籍管理员或学校主管教育行政部门可以开具在读证明")
    raise Forbidden("not_certificate_issuer", "毕业、结业、肄业证书由学校主管教育行政部门签发（第十九条）")


def require_revoker(actor: Actor, school: School) -> None:
    if not is_department_issuer(actor, school):
        raise Forbidden("not_certificate_issuer", "只有学校主管教育行政部门可以撤销电子证书（第十九条）")


# --- issuing --------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value not in Kind.values:
        raise FieldError("kind", "invalid_kind", "证书类型无效：须为毕业证书、结业证书、肄业证书或在读证明")
    return str(value)


def leaving_record(enrollment: Enrollment, kind: str) -> ChangeRequest | None:
    """The applied 毕业/结业/肄业 request of the enrolment (its ``closed_on`` is the leaving date)."""
    return (
        ChangeRequest.objects.filter(enrollment=enrollment, kind=kind, state=RequestState.APPROVED)
        .order_by("-closed_at", "-created_at")
        .first()
    )


def _check_eligible(enrollment: Enrollment, kind: str) -> dict[str, Any]:
    """第19条: a leaving certificate needs the matching leaving status (07/08/09) and its applied request; a
    在读证明 needs an active enrolment in school (01/05). Returns the facts the credential states."""
    label = Kind(kind).label
    if kind == Kind.ENROLLMENT:
        if not enrollment.is_active or enrollment.status not in IN_SCHOOL_STATUSES:
            raise Conflict(
                "not_enrolled",
                f"该学生学籍状态为“{StudentStatus(enrollment.status).label}”，不能开具在读证明",
            )
        return {}
    if enrollment.status != LEAVING_STATUS[kind]:
        raise Conflict(
            "status_mismatch",
            f"该学生学籍状态为“{StudentStatus(enrollment.status).label}”，不能签发{label}（第十九条）",
        )
    request = leaving_record(enrollment, kind)
    if request is None:
        leaving = StudentStatus(LEAVING_STATUS[kind]).label
        raise Conflict("no_leaving_record", f"未找到该学生已办结的{leaving}手续，不能签发{label}")
    closed = request.facts.get("closed_on") or (request.effective_on and request.effective_on.isoformat())
    if Certificate.objects.filter(enrollment=enrollment, kind=kind, revoked_at__isnull=True).exists():
        raise Conflict("already_issued", f"该学生已有有效的{label}；如需补发，请先撤销原证书")
    facts = {"date": str(closed or "")}
    if request.facts.get("certificate_number"):
        facts["certificateNumber"] = str(request.facts["certificate_number"])
    return facts


def build_credential(
    *,
    certificate_id: uuid.UUID,
    enrollment: Enrollment,
    kind: str,
    facts: dict[str, Any],
    now: datetime,
    status_entry: dict[str, str],
) -> dict[str, Any]:
    """The unsigned credential. Names the student (姓名, 性别, 出生日期) as a paper certificate does; never the
    ID number or 学籍号 (第24条)."""
    person, school = enrollment.person, enrollment.school
    with translation.override("zh-hans"):
        subject: dict[str, Any] = {
            "type": "XuejiStudent",
            "name": person.name,
            "gender": str(person.get_gender_display()),
            "birthDate": person.birth_date.isoformat(),
            "school": {"name": school.name, "schoolCode": school.school_code},
            "stage": str(enrollment.get_stage_display()),
            "entryDate": f"{enrollment.entry_ym[:4]}-{enrollment.entry_ym[4:6]}",
            "issuingDepartment": school.supervising_dept.name,
        }
        if kind == Kind.ENROLLMENT:
            subject["enrollment"] = {
                "status": str(StudentStatus(StudentStatus.ENROLLED).label),
                "grade": grade_label(enrollment.grade),
                "className": enrollment.class_name,
                "asOf": timezone.localdate(now).isoformat(),
            }
        else:
            subject["achievement"] = {
                "type": CREDENTIAL_TYPE[kind],
                "name": str(StudentStatus(LEAVING_STATUS[kind]).label),
                "date": facts["date"],
                **({"certificateNumber": facts["certificateNumber"]} if "certificateNumber" in facts else {}),
            }
        document: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": conf.credential_url(certificate_id),
            "type": ["VerifiableCredential", CREDENTIAL_TYPE[kind]],
            "name": str(Kind(kind).label),
            "issuer": issuer_of(enrollment.province_code),
            "validFrom": iso(now),
        }
    if kind == Kind.ENROLLMENT:
        document["validUntil"] = iso(now + timedelta(days=conf.enrollment_proof_days()))
    document["credentialSubject"] = subject
    document["credentialStatus"] = status_entry
    return document


def _issue(
    *, actor: Actor, enrollment: Enrollment, kind: str, now: datetime, batch: CertificateBatch | None = None
) -> Certificate:
    facts = _check_eligible(enrollment, kind)
    province = enrollment.province_code
    key = current_key(province, lock=True)  # held until the certificate is stored: no rotation in between
    status_list, index = _allocate(province, key, now)
    cid = uuid7()
    document = build_credential(
        certificate_id=cid,
        enrollment=enrollment,
        kind=kind,
        facts=facts,
        now=now,
        status_entry=statuslist.entry(conf.list_url(province, status_list.number), index),
    )
    signed = sign(document, key, iso(now))
    store = conf.keystore()
    token = compact.encode(
        certificate_id=cid,
        kid=key.kid,
        credential=signed,
        sign=lambda data: store.sign(key.kid, proofs.EDDSA_JCS, data),
    )
    certificate = Certificate.objects.create(
        id=cid,
        kind=kind,
        person_id=enrollment.person_id,
        enrollment=enrollment,
        school=enrollment.school,
        province_code=province,
        scope_path=enrollment.scope_path,
        kid=key.kid,
        credential=signed,
        qr_token=token,
        valid_from=now,
        valid_until=parse_time(signed["validUntil"]) if "validUntil" in signed else None,
        status_list=status_list,
        status_index=index,
        issued_by=actor,
        batch=batch,
    )
    record(
        event_type=EVENT_ISSUED,
        actor=actor,
        subject_type="student",
        subject_id=enrollment.person_id,
        org_unit_id=enrollment.school_id,
        province_code=province,
        summary=f"签发{Kind(kind).label}",
        after={"certificate": str(cid), "kind": kind, "kid": key.kid},
    )
    return certificate


def certificate_issue(
    *,
    actor: Actor,
    person_id: Any,
    kind: Any,
    now: datetime | None = None,
    batch: CertificateBatch | None = None,
) -> Certificate:
    """Issue one certificate (第19条). Out of scope → NotFound; wrong role → Forbidden; ineligible → Conflict;
    nothing is written on refusal."""
    kind = _kind(kind)
    enrollment = enrollment_get(viewer=actor, person_id=person_id)
    require_issuer(actor, enrollment.school, kind)
    with transaction.atomic():
        try:
            with transaction.atomic():
                return _issue(actor=actor, enrollment=enrollment, kind=kind, now=_now(now), batch=batch)
        except IntegrityError:
            raise Conflict(
                "already_issued", f"该学生已有有效的{Kind(kind).label}；如需补发，请先撤销原证书"
            ) from None


@transaction.atomic
def certificate_revoke(
    *, actor: Actor, certificate: Certificate, reason: str, now: datetime | None = None
) -> Certificate:
    """Revoke: the status bit is set and the province's list re-signed (verifiers then read ``revoked``)."""
    require_revoker(actor, certificate.school)
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "required", "撤销原因：必填")
    if len(reason) > 200:
        raise FieldError("reason", "too_long", "撤销原因：不超过 200 字")
    moment = _now(now)
    locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if locked.revoked_at is not None:
        raise Conflict("already_revoked", "该证书已撤销")
    key = current_key(locked.province_code, lock=True)  # key before list: the lock order of key_rotate
    status_list = StatusList.objects.select_for_update().get(pk=locked.status_list_id)
    status_list.bits = statuslist.set_bit(bytes(status_list.bits), locked.status_index)
    _publish(status_list, key, moment)
    locked.revoked_at, locked.revoked_by, locked.revoke_reason = moment, actor, reason
    locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    record(
        event_type=EVENT_REVOKED,
        actor=actor,
        subject_type="student",
        subject_id=locked.person_id,
        org_unit_id=locked.school_id,
        province_code=locked.province_code,
        summary=f"撤销{Kind(locked.kind).label}",
        after={"certificate": str(locked.pk), "kind": locked.kind},
    )
    return locked


def certificate_downloaded(*, actor: Actor, certificate: Certificate, fmt: str) -> None:
    """An audited read: who downloaded which certificate in which form (pdf/json)."""
    record(
        event_type=EVENT_DOWNLOADED,
        actor=actor,
        subject_type="student",
        subject_id=certificate.person_id,
        org_unit_id=certificate.school_id,
        province_code=certificate.province_code,
        summary=f"下载{Kind(certificate.kind).label}（{fmt}）",
        after={"certificate": str(certificate.pk), "format": fmt},
    )


# --- batches --------------------------------------------------------------------------------------------------


@transaction.atomic
def batch_create(*, actor: Actor, school: School, kind: Any) -> CertificateBatch:
    """A cohort of the school's students in the kind's leaving status without a live certificate (第19条).
    The caller queues :func:`xueji.certificates.tasks.issue_batch` in the same transaction."""
    kind = _kind(kind)
    if kind == Kind.ENROLLMENT:
        raise FieldError("kind", "invalid_kind", "批量签发只适用于毕业、结业、肄业证书")
    require_issuer(actor, school, kind)
    live = Certificate.objects.filter(kind=kind, revoked_at__isnull=True).values("enrollment_id")
    ids = list(
        Enrollment.objects.filter(school=school, status=LEAVING_STATUS[kind])
        .exclude(pk__in=live)
        .order_by("class_name", "person__name")
        .values_list("person_id", flat=True)
    )
    if not ids:
        raise FieldError("kind", "nothing_to_issue", f"该校没有待签发{Kind(kind).label}的学生")
    batch = CertificateBatch.objects.create(
        school=school,
        province_code=school.province_code,
        scope_path=school.org.path,
        kind=kind,
        total=len(ids),
        enrollment_ids=[str(i) for i in ids],
        requested_by=actor,
    )
    record(
        event_type=EVENT_BATCH_QUEUED,
        actor=actor,
        subject_type="school",
        subject_id=school.pk,
        org_unit_id=school.pk,
        province_code=school.province_code,
        summary=f"批量签发{Kind(kind).label}：{len(ids)} 人",
        after={"batch": str(batch.pk), "kind": kind, "total": len(ids)},
    )
    return batch


def batch_run(*, batch_id: Any) -> CertificateBatch | None:
    """Run a queued batch: one transaction per certificate, progress saved after each (a re-run after a crash
    continues: already issued students are counted as skipped)."""
    with transaction.atomic():
        batch = CertificateBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.state not in {BatchState.QUEUED, BatchState.RUNNING}:
            return None
        batch.state = BatchState.RUNNING
        batch.done = batch.issued = batch.skipped = 0
        batch.save(update_fields=["state", "done", "issued", "skipped"])
    actor = batch.requested_by
    try:
        for person_id in batch.enrollment_ids:
            try:
                certificate_issue(actor=actor, person_id=person_id, kind=batch.kind, batch=batch)
                batch.issued += 1
            except ApplicationError:
                batch.skipped += 1
            batch.done += 1
            CertificateBatch.objects.filter(pk=batch.pk).update(
                done=batch.done, issued=batch.issued, skipped=batch.skipped
            )
    except Exception as exc:
        CertificateBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.FAILED, error=type(exc).__name__[:200], finished_at=timezone.now()
        )
        raise
    CertificateBatch.objects.filter(pk=batch.pk).update(state=BatchState.DONE, finished_at=timezone.now())
    batch.refresh_from_db()
    return batch


# --- online verification --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Method:
    key: IssuerKey
    public: str


def _resolve_method(method: str, issuer: str) -> _Method | None:
    head, _, fragment = method.partition("#")
    kid, _, alg = fragment.rpartition("-")
    key = IssuerKey.objects.filter(kid=kid).first()
    if key is None or head != issuer or conf.issuer_id(key.province_code) != issuer:
        return None
    if alg == "ed25519":
        return _Method(key, key.ed25519_public)
    if alg == "sm2":
        return _Method(key, key.sm2_public)
    return None


def verify_online(document: Any, *, now: datetime | None = None) -> Verification:
    """The online check against the database: keys from :class:`IssuerKey`, the status bit from
    :class:`StatusList` (an independent path from the offline :mod:`verifier`'s key-set resolution)."""
    moment = now or timezone.now()
    try:
        found = check_shape(document)
        issuer = issuer_id(document)
        valid_from = parse_time(document["validFrom"])
        resolved: dict[str, str] = {}
        for proof in found:
            vm = str(proof.get("verificationMethod", ""))
            method = _resolve_method(vm, issuer)
            if method is None:
                return Verification(Result.UNKNOWN_ISSUER, "key unknown")
            key = method.key
            if valid_from < key.valid_from or (key.valid_until is not None and valid_from >= key.valid_until):
                return Verification(Result.UNKNOWN_ISSUER, "key not valid at validFrom")
            resolved[vm] = method.public
        if not all(proofs.verify_proof(document, p, resolve=resolved.get) for p in found):
            return Verification(Result.BAD_SIGNATURE, "proof check failed")
    except (Malformed, TypeError, KeyError, ValueError) as exc:
        return Verification(Result.BAD_SIGNATURE, f"malformed: {exc}")
    cid = str(document["id"])
    if valid_from > moment:
        return Verification(Result.EXPIRED, "not valid yet", credential_id=cid)
    if "validUntil" in document and parse_time(document["validUntil"]) < moment:
        return Verification(Result.EXPIRED, "past validUntil", credential_id=cid)
    entry = revocation_entry(document)  # check_shape required exactly one revocation entry
    url = str(entry.get("statusListCredential", ""))
    prefix = f"{conf.base_url()}/v/status/"
    province, _, number = url.removeprefix(prefix).partition("/")
    status_list = (
        StatusList.objects.filter(province_code=province, number=int(number)).first()
        if url.startswith(prefix) and number.isdigit()
        else None
    )
    if status_list is None or conf.issuer_id(province) != issuer:
        return Verification(Result.UNKNOWN_ISSUER, "status list unknown", credential_id=cid)
    if statuslist.get_bit(bytes(status_list.bits), int(str(entry.get("statusListIndex")))):
        return Verification(Result.REVOKED, "status bit set", True, cid)
    return Verification(Result.VALID, "", True, cid)


def certificate_by_id(certificate_id: Any) -> Certificate | None:
    try:
        return Certificate.objects.select_related("school").filter(pk=certificate_id).first()
    except (ValueError, TypeError):
        return None


def verify_qr_online(token: str, *, now: datetime | None = None) -> tuple[Verification, Certificate | None]:
    """The public QR check: the payload's signature under the key it names, the certificate it names, the
    digest binding the two, then the credential's own verification."""
    try:
        payload = compact.decode(token)
    except (ValueError, UnicodeDecodeError):
        return Verification(Result.BAD_SIGNATURE, "malformed QR payload"), None
    key = IssuerKey.objects.filter(kid=payload.kid).first()
    if key is None:
        return Verification(Result.UNKNOWN_ISSUER, "QR key unknown"), None
    if not compact.signature_ok(payload, key.ed25519_public):
        return Verification(Result.BAD_SIGNATURE, "QR signature"), None
    certificate = certificate_by_id(payload.certificate_id)
    if certificate is None:
        raise NotFound()
    if compact.credential_digest(certificate.credential) != payload.digest:
        return Verification(Result.BAD_SIGNATURE, "QR does not match the credential"), certificate
    return verify_online(certificate.credential, now=now), certificate
