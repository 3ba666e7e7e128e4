"""Writes of the guardian end (家长端): captcha and SMS login, the guardian session, binding codes and links,
guardian requests and the school's decision on them.

Rules (each names its article; tests in tests/guardians/):

- 第5条 (学校…指导帮助家长查看与更新学生学籍信息; 推进学籍管理移动端): a guardian signs in with a verified mobile
  number and sees only the children bound to the account through a code the school issued.
- 第13条: a guardian's update of basic information is completed only after the school reviews and confirms it;
  ordinary fields are then written by the school's registrar (``students.records.student_update``), key fields
  (姓名, 性别, 出生日期, 身份证件) become the key-data change with its approval chain.
- 第15条: a guardian applies to the receiving school, which starts the transfer (``changes`` engine).
- 第16条: 休学 is applied for by the guardian and confirmed by the school (then approved above); 复学 likewise.
- PIPL 第31条: binding records the guardian's consent to processing the personal information of a minor.

Secrets are stored only as keyed hashes (:mod:`.crypto`); messages go out after commit; every write records an
audit event naming the guardian account (never a phone number or a code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from xueji.accounts.jurisdiction import require_registrar_for_school, school_registrar_units
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.changes.enums import ChangeKind
from xueji.changes.kinds.suspension import REASONS as SUSPENSION_REASONS
from xueji.changes.services import change_submit
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.enums import StudentStatus
from xueji.students.fields import PERSON_FIELDS
from xueji.students.models import Enrollment, Person
from xueji.students.records import KEY_FIELDS, student_update
from xueji.students.validation import clean_fields
from xueji.workdays.services import official_calendar

from . import captcha as captcha_images
from . import conf, crypto, limits, phones, sms
from .enums import EventKind, Relation, RequestKind, RequestState
from .ids import GUARDIAN_ROLE, guardian_label, uuid_or_none
from .models import (
    BindingCode,
    Captcha,
    GuardianAccount,
    GuardianLink,
    GuardianNotice,
    GuardianRequest,
    GuardianSession,
    LoginCode,
    RequestEvent,
)

SESSION_SALT = "xueji.guardians.session"

#: Ordinary fields a guardian may ask the school to correct (第13条; the school writes them after review).
CORRECTABLE_FIELDS = (
    "current_address",
    "mailing_address",
    "home_address",
    "phone",
    "postal_code",
    "email",
    "specialty",
    "name_pinyin",
    "former_name",
    "native_place",
)
#: Key fields a guardian may ask about: they become a key-data change (第13条, ``changes.kinds.key_data``).
KEY_CORRECTABLE_FIELDS = ("name", "gender", "birth_date", "id_number")
SPECS = {s.key: s for s in PERSON_FIELDS}

CAPTCHA_WRONG = FieldError("captcha", "captcha_invalid", "图形验证码：输入不正确或已过期，请看新图片重新输入")
CODE_INVALID = FieldError("code", "code_invalid", "短信验证码：不正确或已过期，请重新输入或重新获取")
CODE_EXHAUSTED = FieldError("code", "code_exhausted", "短信验证码：错误次数过多，请重新获取验证码")
BINDING_INVALID = FieldError("code", "binding_invalid", "绑定码：绑定码或学生姓名不正确，或绑定码已失效")


# --- audit ----------------------------------------------------------------------------------------------------


def _audit_guardian(
    event_type: EventType,
    *,
    account: GuardianAccount | None,
    summary: str,
    enrollment: Enrollment | None = None,
    after: dict[str, Any] | None = None,
    success: bool = True,
) -> None:
    """An audit event of a guardian's action: the actor is the guardian account (``after.guardian``; a guardian
    is not a staff account), the subject the student when the action concerns one."""
    # ``username`` is the audit's public key for who acted: a guardian is ``guardian:<account id>``.
    details = {"username": guardian_label(account), **(after or {})}
    subject: dict[str, Any] = (
        {
            "subject_type": "student",
            "subject_id": enrollment.person_id,
            "org_unit_id": enrollment.school_id,
            "province_code": enrollment.province_code,
        }
        if enrollment is not None
        else {"subject_type": "guardian", "subject_id": account.pk if account else ""}
    )
    record(
        event_type=event_type,
        actor=None,
        actor_role=GUARDIAN_ROLE,
        summary=summary,
        after=details,
        success=success,
        **subject,
    )


def _audit_staff(
    event_type: EventType, *, actor: Actor, enrollment: Enrollment, summary: str, **after: Any
) -> None:
    record(
        event_type=event_type,
        actor=actor,
        subject_type="student",
        subject_id=enrollment.person_id,
        org_unit_id=enrollment.school_id,
        province_code=enrollment.province_code,
        summary=summary,
        after=after,
    )


def _send_later(phone: str, text: str) -> None:
    """Send the SMS once the transaction commits (nothing is sent for rolled-back work)."""
    transaction.on_commit(lambda: sms.send_sms(phone, f"【{conf.sign_name()}】{text}", fail_silently=True))


# --- captcha and SMS login ------------------------------------------------------------------------------------


def captcha_new(*, now: datetime | None = None) -> Captcha:
    """A fresh image captcha (answer stored hashed), valid :data:`conf.CODE_TTL_SECONDS`."""
    now = now or timezone.now()
    answer = captcha_images.new_answer()
    return Captcha.objects.create(
        answer_hash=crypto.keyed_hash("guardian.captcha", captcha_images.normalise(answer)),
        image=captcha_images.render_png(answer),
        created_at=now,
        expires_at=now + timedelta(seconds=conf.CODE_TTL_SECONDS),
    )


def captcha_image(captcha_id: Any, *, now: datetime | None = None) -> bytes:
    """The picture of an unused, unexpired captcha; anything else is NotFound."""
    now = now or timezone.now()
    pk = uuid_or_none(captcha_id)
    row = Captcha.objects.filter(pk=pk, used_at__isnull=True, expires_at__gt=now).first() if pk else None
    if row is None:
        raise NotFound()
    return bytes(row.image)


def captcha_consume(captcha_id: Any, answer: str, *, now: datetime | None = None) -> None:
    """Check a captcha answer. The captcha is used up by the check, right or wrong (one guess per picture)."""
    now = now or timezone.now()
    with transaction.atomic():
        pk = uuid_or_none(captcha_id)
        row = Captcha.objects.select_for_update().filter(pk=pk).first() if pk else None
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise CAPTCHA_WRONG
        row.used_at = now
        row.image = b""
        row.save(update_fields=["used_at", "image"])
        good = crypto.matches(row.answer_hash, "guardian.captcha", captcha_images.normalise(answer))
    if not good:
        raise CAPTCHA_WRONG


def login_code_request(
    *, phone: str, captcha_id: Any, captcha_answer: str, ip: str | None, now: datetime | None = None
) -> str:
    """Check the captcha, count the limits (per phone per hour and per day, per address), then store a new
    one-time code (keyed hash; earlier unused codes of the phone end) and send it by SMS after commit.

    Returns the normalised phone number. Any phone number may ask (an account is created at the first
    verified login), so the answer never tells whether a number is known (ASVS 6.3.8).
    """
    now = now or timezone.now()
    number = phones.normalise(phone)
    captcha_consume(captcha_id, captcha_answer, now=now)
    limits.hit("sms_ip", ip or "", now=now)
    limits.hit("sms_phone", number, now=now)
    limits.hit("sms_day", number, now=now)
    key = phones.blind_index(number)
    code = crypto.numeric_code()
    with transaction.atomic():
        LoginCode.objects.filter(phone_key=key, used_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        LoginCode.objects.create(
            phone_key=key,
            code_hash=crypto.keyed_hash("guardian.login", f"{key}|{code}"),
            created_at=now,
            expires_at=now + timedelta(seconds=conf.CODE_TTL_SECONDS),
        )
        account = GuardianAccount.objects.filter(phone_key=key).first()
        _audit_guardian(EventType.GUARDIAN_CODE_SENT, account=account, summary="家长端发送登录验证码")
        _send_later(number, f"您的家长端登录验证码为 {code}，5 分钟内有效。请勿告诉他人。")
    return number


def _check_code(key: str, code: str, now: datetime) -> str:
    """``ok``, ``invalid`` or ``exhausted``; a wrong try is counted and committed."""
    with transaction.atomic():
        row = (
            LoginCode.objects.select_for_update()
            .filter(phone_key=key, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at", "-pk")
            .first()
        )
        if row is None:
            return "invalid"
        if row.attempts >= conf.CODE_MAX_ATTEMPTS:
            return "exhausted"
        if crypto.matches(row.code_hash, "guardian.login", f"{key}|{code.strip()}"):
            row.used_at = now
            row.save(update_fields=["used_at"])
            return "ok"
        row.attempts += 1
        if row.attempts >= conf.CODE_MAX_ATTEMPTS:
            row.expires_at = now  # the fifth wrong try ends the code
        row.save(update_fields=["attempts", "expires_at"])
        return "exhausted" if row.attempts >= conf.CODE_MAX_ATTEMPTS else "invalid"


@dataclass(frozen=True)
class SignedIn:
    account: GuardianAccount
    cookie_value: str


def login_verify(
    *,
    phone: str,
    code: str,
    ip: str | None,
    previous: GuardianSession | None = None,
    now: datetime | None = None,
) -> SignedIn:
    """Check the SMS code (5 minutes, 5 tries); on success open a new guardian session (a new token at every
    login, ASVS 7.2.4) and end the ``previous`` session of the same browser, creating the account at its first
    login. Failures are audited without the number."""
    now = now or timezone.now()
    number = phones.normalise(phone)
    limits.hit("login_ip", ip or "", now=now)
    key = phones.blind_index(number)
    outcome = _check_code(key, code, now)
    account = GuardianAccount.objects.filter(phone_key=key).first()
    if outcome != "ok" or (account is not None and not account.is_active):
        _audit_guardian(
            EventType.GUARDIAN_LOGIN_FAILED,
            account=account,
            summary="家长登录失败",
            after={"reason": outcome if outcome != "ok" else "inactive"},
            success=False,
        )
        raise CODE_EXHAUSTED if outcome == "exhausted" else CODE_INVALID
    with transaction.atomic():
        if account is None:
            account = GuardianAccount()
            phones.store(account, number)
            try:
                with transaction.atomic():
                    account.save()
            except IntegrityError:  # a concurrent first login of the same number
                account = GuardianAccount.objects.get(phone_key=key)
        account.last_login_at = now
        account.save(update_fields=["last_login_at"])
        if previous is not None:
            GuardianSession.objects.filter(pk=previous.pk, ended_at__isnull=True).update(ended_at=now)
        cookie = session_start(account=account, now=now)
        _audit_guardian(EventType.GUARDIAN_LOGIN, account=account, summary="家长登录")
    return SignedIn(account=account, cookie_value=cookie)


# --- the guardian session ---------------------------------------------------------------------------------------


def session_start(*, account: GuardianAccount, now: datetime | None = None) -> str:
    """A new session row (keyed hash of a 256-bit token) and the signed cookie value naming it."""
    now = now or timezone.now()
    token = crypto.session_token()
    GuardianSession.objects.create(
        token_hash=crypto.keyed_hash("guardian.session", token),
        account=account,
        created_at=now,
        last_seen_at=now,
    )
    return signing.Signer(salt=SESSION_SALT).sign(token)


def session_resume(cookie_value: str, *, now: datetime | None = None) -> GuardianSession | None:
    """The live session a cookie names, or None: a bad signature, an unknown or ended session, the idle limit
    (``XUEJI_GUARDIAN_SESSION_IDLE_SECONDS``) or the absolute limit passed, or a disabled account all end it
    (server-side; a replayed cookie after logout finds nothing). Activity is written at most once a minute."""
    now = now or timezone.now()
    try:
        token = signing.Signer(salt=SESSION_SALT).unsign(cookie_value)
    except signing.BadSignature:
        return None
    session = (
        GuardianSession.objects.select_related("account")
        .filter(token_hash=crypto.keyed_hash("guardian.session", token), ended_at__isnull=True)
        .first()
    )
    if session is None:
        return None
    idle = (now - session.last_seen_at).total_seconds() > conf.idle_seconds()
    too_old = (now - session.created_at).total_seconds() > conf.absolute_seconds()
    if idle or too_old or not session.account.is_active:
        GuardianSession.objects.filter(pk=session.pk).update(ended_at=now)
        return None
    if (now - session.last_seen_at).total_seconds() > 60:
        GuardianSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def session_end(*, session: GuardianSession, now: datetime | None = None) -> None:
    """Logout: the session ends server-side (ASVS 7.4.1)."""
    now = now or timezone.now()
    with transaction.atomic():
        GuardianSession.objects.filter(pk=session.pk).update(ended_at=now)
        _audit_guardian(EventType.GUARDIAN_LOGOUT, account=session.account, summary="家长退出")


def account_disable(*, account: GuardianAccount) -> None:
    """Disable an account: its sessions end at their next request (ASVS 7.4.2)."""
    with transaction.atomic():
        GuardianAccount.objects.filter(pk=account.pk).update(is_active=False)
        GuardianSession.objects.filter(account=account, ended_at__isnull=True).update(ended_at=timezone.now())


# --- binding codes (school side) --------------------------------------------------------------------------------


def _active_enrollment(person_id: Any) -> Enrollment | None:
    return (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(person_id=person_id, is_active=True)
        .first()
    )


@dataclass(frozen=True)
class IssuedCode:
    binding: BindingCode
    code: str  # the plain code: shown once, on the printed slip, never stored


@transaction.atomic
def binding_code_issue(
    *, actor: Actor, enrollment: Enrollment, slot: int, now: datetime | None = None
) -> IssuedCode:
    """The school issues a one-time binding code for guardian slot ``slot`` of a pupil (第5条: the school helps
    guardians reach the record). 60 random bits, stored as a keyed hash, valid ``XUEJI_BINDING_CODE_DAYS``;
    a slot's earlier unused code is revoked. Only the pupil's own school registrar; others → NotFound."""
    now = now or timezone.now()
    require_registrar_for_school(actor, enrollment.school)
    if not enrollment.is_active:
        raise ApplicationError("record_inactive", "该学籍已不在本校在读，不能签发绑定码")
    cap = conf.guardians_per_child()
    if not 1 <= int(slot) <= cap:
        raise FieldError("slot", "invalid_slot", f"家长序号：须为 1 至 {cap}")
    if GuardianLink.objects.filter(
        person_id=enrollment.person_id, slot=slot, revoked_at__isnull=True
    ).exists():
        raise Conflict("slot_taken", "该家长序号已有家长绑定，请先解除绑定再签发")
    BindingCode.objects.filter(
        person_id=enrollment.person_id, slot=slot, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    code = crypto.binding_code()
    binding = BindingCode.objects.create(
        code_hash=crypto.keyed_hash("guardian.binding", code),
        person_id=enrollment.person_id,
        enrollment=enrollment,
        province_code=enrollment.province_code,
        scope_path=enrollment.scope_path,
        slot=slot,
        issued_by=actor,
        issued_at=now,
        expires_at=now + timedelta(days=conf.binding_code_days()),
    )
    _audit_staff(
        EventType.GUARDIAN_BINDING_ISSUED,
        actor=actor,
        enrollment=enrollment,
        summary=f"签发家长绑定码（家长{slot}）",
        position=slot,
    )
    return IssuedCode(binding=binding, code=code)


def _latest_enrollment(person_id: Any) -> Enrollment | None:
    """The pupil's active enrollment, else the most recent one (graduated, dropped out, transferred away)."""
    return (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(person_id=person_id)
        .order_by("-is_active", "-registered_at", "-pk")
        .first()
    )


def _school_binding(actor: Actor, model: type[Any], pk: Any) -> tuple[Any, Enrollment]:
    """A binding code or link and the enrollment whose school answers for it: the pupil's active enrollment,
    or — once there is none (毕业, 退学, 死亡 …) — the latest one, so that the school can still end a binding or
    void a code of a pupil who left (a code falls back to the enrollment it was issued under). Only that
    school's registrar; others → NotFound."""
    key = uuid_or_none(pk)
    row = model.objects.select_for_update(of=("self",)).filter(pk=key).first() if key else None
    if row is None:
        raise NotFound()
    enrollment = _active_enrollment(row.person_id)
    if enrollment is None and isinstance(row, BindingCode):
        enrollment = (
            Enrollment.objects.select_related("school", "school__org", "person")
            .filter(pk=row.enrollment_id)
            .first()
        )
    if enrollment is None:
        enrollment = _latest_enrollment(row.person_id)
    if enrollment is None:
        raise NotFound()
    require_registrar_for_school(actor, enrollment.school)
    return row, enrollment


@transaction.atomic
def binding_code_revoke(*, actor: Actor, binding_id: Any, now: datetime | None = None) -> BindingCode:
    """Revoke an unused binding code (lost slip). Out of the registrar's school → NotFound."""
    now = now or timezone.now()
    binding, enrollment = _school_binding(actor, BindingCode, binding_id)
    if binding.used_at is not None or binding.revoked_at is not None:
        raise ApplicationError("code_closed", "该绑定码已使用或已作废")
    binding.revoked_at = now
    binding.save(update_fields=["revoked_at"])
    _audit_staff(
        EventType.GUARDIAN_BINDING_REVOKED,
        actor=actor,
        enrollment=enrollment,
        summary=f"作废家长绑定码（家长{binding.slot}）",
        position=binding.slot,
    )
    return binding


@transaction.atomic
def link_revoke(*, actor: Actor, link_id: Any, now: datetime | None = None) -> GuardianLink:
    """The school ends a guardian's binding (e.g. guardianship changed); the guardian loses access at once.
    Requests of the binding still waiting for the school are closed with it (state ``closed``), so that no one
    decides them later and no message about the child goes to the former guardian's phone."""
    now = now or timezone.now()
    link, enrollment = _school_binding(actor, GuardianLink, link_id)
    if link.revoked_at is not None:
        raise ApplicationError("link_closed", "该家长绑定已解除")
    link.revoked_at, link.revoked_by = now, actor
    link.save(update_fields=["revoked_at", "revoked_by"])
    closed = list(
        GuardianRequest.objects.select_for_update()
        .filter(link=link, state=RequestState.SUBMITTED)
        .order_by("created_at", "pk")
    )
    for request in closed:
        request.state, request.decided_by, request.decided_at = RequestState.CLOSED, actor, now
        request.save(update_fields=["state", "decided_by", "decided_at"])
        _event(request, EventKind.CLOSED)
        _audit_staff(
            EventType.GUARDIAN_REQUEST_DECIDED,
            actor=actor,
            enrollment=enrollment,
            summary=f"解除家长绑定，关闭家长{request.get_kind_display()}",
            request=str(request.pk),
            kind=request.kind,
            outcome=RequestState.CLOSED,
        )
    _audit_staff(
        EventType.GUARDIAN_UNBOUND,
        actor=actor,
        enrollment=enrollment,
        summary=f"解除家长绑定（家长{link.slot}）",
        position=link.slot,
        username=guardian_label(link.account),
        count=len(closed),
    )
    return link


# --- binding (guardian side) ------------------------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _binding_wrong_name(
    binding: BindingCode, enrollment: Enrollment, account: GuardianAccount, now: datetime
) -> None:
    """A live code given with a wrong child name: counted on the code (committed, whatever the caller does
    next); at ``conf.BINDING_MAX_ATTEMPTS`` the code is void, so a leaked code cannot be tried against names
    from several addresses and accounts (the school issues a new slip)."""
    with transaction.atomic():
        locked = BindingCode.objects.select_for_update().filter(pk=binding.pk).first()
        if locked is None or locked.used_at is not None or locked.revoked_at is not None:
            return
        locked.attempts += 1
        fields = ["attempts"]
        if locked.attempts >= conf.BINDING_MAX_ATTEMPTS:
            locked.revoked_at = now
            fields.append("revoked_at")
        locked.save(update_fields=fields)
        if locked.revoked_at is not None:
            _audit_guardian(
                EventType.GUARDIAN_BINDING_VOIDED,
                account=account,
                enrollment=enrollment,
                summary=f"家长绑定码多次填错学生姓名，已失效（家长{locked.slot}）",
                after={"position": locked.slot},
                success=False,
            )


def link_bind(
    *,
    account: GuardianAccount,
    code: str,
    child_name: str,
    relation: str,
    guardian_name: str,
    consent: bool,
    ip: str | None,
    now: datetime | None = None,
) -> GuardianLink:
    """Bind the guardian to the child the code was issued for. The code must be unused, unrevoked and
    unexpired and the child's name must match; both failures give the same answer (no probing of codes or
    names). PIPL 第31条: the guardian's consent is required and recorded; at most ``XUEJI_GUARDIANS_PER_CHILD``
    guardians per child. Attempts are limited per account and per address."""
    now = now or timezone.now()
    if not consent:
        raise FieldError(
            "consent",
            "consent_required",
            "同意：请阅读并同意《儿童个人信息处理规则》后再绑定（个人信息保护法第三十一条）",
        )
    if relation not in Relation.values:
        raise FieldError("relation", "invalid_relation", "与学生关系：请选择")
    name = " ".join((guardian_name or "").split())
    if not name or len(name) > 60:
        raise FieldError("guardian_name", "required", "您的姓名：请填写（60 个字以内）")
    if not (child_name or "").strip():
        raise FieldError("child_name", "required", "学生姓名：请填写")
    limits.hit("bind", f"account:{account.pk}", now=now)
    limits.hit("bind", f"ip:{ip or ''}", now=now)
    normal = crypto.normalise_binding_code(code)
    binding = None
    if len(normal) == crypto.BINDING_CODE_LENGTH and set(normal) <= set(crypto.CODE_ALPHABET):
        binding = (
            BindingCode.objects.select_related("person")
            .filter(code_hash=crypto.keyed_hash("guardian.binding", normal))
            .first()
        )
    enrollment = _active_enrollment(binding.person_id) if binding else None
    valid = (
        binding is not None
        and binding.used_at is None
        and binding.revoked_at is None
        and binding.expires_at > now
        and enrollment is not None
        and _same_name(binding.person.name, child_name)
    )
    if not valid or binding is None or enrollment is None:
        _audit_guardian(
            EventType.GUARDIAN_BIND_FAILED, account=account, summary="家长绑定学生失败", success=False
        )
        if binding is not None and enrollment is not None:
            _binding_wrong_name(binding, enrollment, account, now)
        raise BINDING_INVALID
    cap = conf.guardians_per_child()
    with transaction.atomic():
        locked = BindingCode.objects.select_for_update().get(pk=binding.pk)
        if locked.used_at is not None or locked.revoked_at is not None:
            raise BINDING_INVALID  # used concurrently
        if GuardianLink.objects.filter(
            account=account, person_id=locked.person_id, revoked_at__isnull=True
        ).exists():
            raise Conflict("already_bound", "您已绑定该学生，无需重复绑定")
        if GuardianLink.objects.filter(person_id=locked.person_id, revoked_at__isnull=True).count() >= cap:
            raise Conflict("too_many_guardians", f"每名学生最多绑定 {cap} 位家长，请联系学校")
        locked.used_at = now
        locked.save(update_fields=["used_at"])
        try:
            with transaction.atomic():
                link = GuardianLink.objects.create(
                    account=account,
                    person_id=locked.person_id,
                    province_code=locked.province_code,
                    slot=locked.slot,
                    relation=relation,
                    guardian_name=name,
                    binding_code=locked,
                    consent_at=now,
                    consent_version=conf.CONSENT_VERSION,
                )
        except IntegrityError as exc:
            raise Conflict("slot_taken", "该绑定码对应的家长序号已有家长绑定，请联系学校") from exc
        _audit_guardian(
            EventType.GUARDIAN_BOUND,
            account=account,
            enrollment=enrollment,
            summary=f"家长绑定学生（家长{locked.slot}，已同意个人信息处理规则）",
            after={"position": locked.slot, "version": conf.CONSENT_VERSION},
        )
        _notice(account, None, "您已成功绑定学生，可查看学籍信息并在线提交申请。", sms_too=False)
    return link


# --- guardian requests --------------------------------------------------------------------------------------------


def _notice(
    account: GuardianAccount, request: GuardianRequest | None, text: str, *, sms_too: bool = True
) -> None:
    """A notice on the guardian's pages, and (by default) the same text by SMS after commit. The text names
    no personal data: the guardian reads the details after signing in. Nothing goes to a disabled account or
    about a request whose binding the school has ended (the phone is no longer the child's guardian's)."""
    if not account.is_active or (request is not None and request.link.revoked_at is not None):
        return
    GuardianNotice.objects.create(
        account=account, request=request, text=text[:200], created_at=timezone.now()
    )
    if sms_too:
        _send_later(phones.reveal(account), f"{text}请登录家长端查看。")


def _event(request: GuardianRequest, kind: str, note: str = "") -> None:
    RequestEvent.objects.create(request=request, kind=kind, at=timezone.now(), note=note[:300])


def _parse_day(value: Any, field: str, label: str) -> date:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError as exc:
        raise FieldError(field, "invalid_date", f"{label}：请填写正确的日期（YYYY-MM-DD）") from exc


def _correction_payload(enrollment: Enrollment, data: dict[str, Any]) -> dict[str, Any]:
    """第13条: which field, its correct value (checked like the registrar's edit form), and a note."""
    field = str(data.get("field") or "")
    if field not in CORRECTABLE_FIELDS and field not in KEY_CORRECTABLE_FIELDS:
        raise FieldError("field", "invalid_field", "更正项目：请选择要更正的项目")
    value = str(data.get("value") or "").strip()
    if not value:
        raise FieldError("value", "required", "正确内容：请填写")
    spec = SPECS[field]
    errors: dict[str, str] = {}
    cleaned = clean_fields((spec,), {field: value}, errors)
    if errors:
        raise FieldError("value", "invalid_value", f"正确内容：{next(iter(errors.values()))}")
    shown = cleaned[field]
    shown = shown.isoformat() if isinstance(shown, date) else shown
    if str(
        getattr(enrollment.person, field)
        if field != "birth_date"
        else enrollment.person.birth_date.isoformat()
    ) == str(shown):
        raise FieldError("value", "no_change", "正确内容：与现有学籍信息相同，无需更正")
    return {
        "field": field,
        "value": shown,
        "key": field in KEY_FIELDS,
        "note": str(data.get("note") or "").strip()[:200],
    }


def _transfer_payload(enrollment: Enrollment, data: dict[str, Any]) -> tuple[dict[str, Any], School]:
    """第15条: the receiving school, named by its 10-digit 学校标识码, active and teaching the pupil's stage."""
    code = str(data.get("school_code") or "").strip()
    target = School.objects.select_related("org").filter(school_code=code).first() if code.isdigit() else None
    if target is None:
        raise FieldError("school_code", "school_not_found", "转入学校标识码：未找到该学校，请向转入学校核实")
    if target.pk == enrollment.school_id:
        raise FieldError("school_code", "same_school", "转入学校标识码：不能是孩子当前就读的学校")
    if target.state != SchoolState.ACTIVE or not target.teaches(enrollment.stage):
        raise FieldError(
            "school_code", "school_not_receiving", "转入学校标识码：该学校已撤销或没有孩子所在学段"
        )
    reason = str(data.get("reason") or "").strip()
    if not reason:
        raise FieldError("reason", "required", "转学原因：请填写")
    return {"school_code": code, "school_name": target.name, "reason": reason[:200]}, target


def _suspension_payload(enrollment: Enrollment, data: dict[str, Any]) -> dict[str, Any]:
    """第16条: 休学 reason, start and end (at most one year; the province's limit is checked when the school
    turns it into the change request)."""
    if enrollment.status not in {StudentStatus.ENROLLED, StudentStatus.RESUMED}:
        raise ApplicationError("status_not_allowed", "孩子当前不是在读状态，不能申请休学")
    reason = str(data.get("reason") or "")
    if reason not in SUSPENSION_REASONS:
        raise FieldError("reason", "invalid_reason", "休学原因：请选择")
    start = _parse_day(data.get("start_date"), "start_date", "休学开始日期")
    end = _parse_day(data.get("end_date"), "end_date", "休学结束日期")
    if end <= start:
        raise FieldError("end_date", "end_before_start", "休学结束日期：须晚于开始日期")
    if (end - start).days > 366:
        raise FieldError("end_date", "suspension_too_long", "休学结束日期：每次休学不超过 1 年（第十六条）")
    return {
        "reason": reason,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "note": str(data.get("note") or "").strip()[:200],
    }


def _resumption_payload(enrollment: Enrollment, data: dict[str, Any]) -> dict[str, Any]:
    if enrollment.status != StudentStatus.SUSPENDED:
        raise ApplicationError("status_not_allowed", "孩子当前不是休学状态，不能申请复学")
    day = _parse_day(data.get("resume_date"), "resume_date", "复学日期")
    return {"resume_date": day.isoformat(), "note": str(data.get("note") or "").strip()[:200]}


def request_submit(
    *,
    account: GuardianAccount,
    link: GuardianLink,
    kind: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> GuardianRequest:
    """A guardian's application to the school (第13、15、16条). The record's school decides corrections and
    休学/复学, the receiving school a transfer; the answer is due in ``XUEJI_GUARDIAN_REVIEW_WORKING_DAYS``
    working days. One open request of a kind per child at a time.

    Every attempt counts against the account's request limit before anything is checked, outside the
    transaction, so that refused and failed attempts count too (and the refusal is audited)."""
    now = now or timezone.now()
    if link.account_id != account.pk or link.revoked_at is not None:
        raise NotFound()
    limits.hit("request", str(account.pk), now=now)
    with transaction.atomic():
        return _request_create(account=account, link=link, kind=kind, data=data, now=now)


def _request_create(
    *, account: GuardianAccount, link: GuardianLink, kind: str, data: dict[str, Any], now: datetime
) -> GuardianRequest:
    link = GuardianLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at is not None:
        raise NotFound()
    enrollment = _active_enrollment(link.person_id)
    if enrollment is None:
        raise ApplicationError("record_inactive", "孩子目前没有在读学籍，不能在线申请，请联系学校")
    if kind not in RequestKind.values:
        raise FieldError("kind", "invalid_kind", "申请类型无效")
    school = enrollment.school
    if kind == RequestKind.CORRECTION:
        payload = _correction_payload(enrollment, data)
    elif kind == RequestKind.TRANSFER:
        payload, school = _transfer_payload(enrollment, data)
    elif kind == RequestKind.SUSPENSION:
        payload = _suspension_payload(enrollment, data)
    else:
        payload = _resumption_payload(enrollment, data)
    if GuardianRequest.objects.filter(
        person_id=link.person_id, kind=kind, state=RequestState.SUBMITTED
    ).exists():
        raise Conflict("request_open", "该孩子已有一件同类申请正在等待学校处理")
    today = timezone.localdate(now)
    try:
        with transaction.atomic():
            request = GuardianRequest.objects.create(
                link=link,
                person_id=link.person_id,
                enrollment=enrollment,
                province_code=enrollment.province_code,
                school=school,
                scope_path=school.org.path,
                kind=kind,
                payload=payload,
                due_on=official_calendar().add_working_days(today, conf.review_working_days()).due,
                created_at=now,
            )
    except IntegrityError as exc:  # a concurrent request of the same kind (guardian_request_one_open)
        raise Conflict("request_open", "该孩子已有一件同类申请正在等待学校处理") from exc
    _event(request, EventKind.SUBMITTED)
    _audit_guardian(
        EventType.GUARDIAN_REQUEST_SUBMITTED,
        account=account,
        enrollment=enrollment,
        summary=f"家长提交{request.get_kind_display()}",
        after={"request": str(request.pk), "kind": kind},
    )
    return request


@transaction.atomic
def request_withdraw(*, account: GuardianAccount, request_id: Any) -> GuardianRequest:
    """The guardian withdraws a request the school has not yet handled."""
    request = _guardian_request(account, request_id, lock=True)
    if request.state != RequestState.SUBMITTED:
        raise ApplicationError("request_closed", "学校已处理该申请，不能撤回")
    request.state = RequestState.WITHDRAWN
    request.save(update_fields=["state"])
    _event(request, EventKind.WITHDRAWN)
    _audit_guardian(
        EventType.GUARDIAN_REQUEST_WITHDRAWN,
        account=account,
        enrollment=request.enrollment,
        summary=f"家长撤回{request.get_kind_display()}",
        after={"request": str(request.pk), "state": RequestState.WITHDRAWN},
    )
    return request


def _guardian_request(account: GuardianAccount, request_id: Any, *, lock: bool = False) -> GuardianRequest:
    qs = GuardianRequest.objects.select_related("enrollment", "link")
    if lock:
        qs = qs.select_for_update()
    pk = uuid_or_none(request_id)
    request = qs.filter(pk=pk, link__account=account, link__revoked_at__isnull=True).first() if pk else None
    if request is None:
        raise NotFound()
    return request


def school_request_get(*, viewer: Actor, request_id: Any, lock: bool = False) -> GuardianRequest:
    """A guardian request the viewer's school decides (the record's school; the receiving school for a
    transfer). Any other → NotFound (a registrar sees only its own school's requests)."""
    units = [u.pk for u in school_registrar_units(viewer)]
    qs = GuardianRequest.objects.select_related(
        "school", "school__org", "enrollment", "enrollment__school", "link", "link__account", "person"
    )
    if lock:
        qs = qs.select_for_update(of=("self",))
    pk = uuid_or_none(request_id)
    scope = Q(school__org_id__in=units) | Q(school__central_school__org_id__in=units)
    request = qs.filter(scope, pk=pk).first() if pk and units else None
    if request is None:
        raise NotFound()
    return request


def _require_open(request: GuardianRequest) -> None:
    """Only a waiting request of a live binding is decided: once the school ended the binding or the guardian
    account is disabled, nobody acts on it (and no message goes to that phone)."""
    if request.state != RequestState.SUBMITTED:
        raise Conflict("request_closed", "该申请已处理或已撤回")
    if request.link.revoked_at is not None or not request.link.account.is_active:
        raise Conflict("link_revoked", "该家长的绑定已解除或账号已停用，不能再处理其申请")


@transaction.atomic
def request_decline(*, actor: Actor, request_id: Any, reason: str) -> GuardianRequest:
    """The school declines a guardian's request with a reason the guardian reads (第13条 学校审核)."""
    request = school_request_get(viewer=actor, request_id=request_id, lock=True)
    _require_open(request)
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldError("reason", "required", "不予受理的理由：请填写，家长将看到此理由")
    request.state, request.decline_reason = RequestState.DECLINED, reason[:300]
    request.decided_by, request.decided_at = actor, timezone.now()
    request.save(update_fields=["state", "decline_reason", "decided_by", "decided_at"])
    _event(request, EventKind.DECLINED, reason)
    _audit_staff(
        EventType.GUARDIAN_REQUEST_DECIDED,
        actor=actor,
        enrollment=request.enrollment,
        summary=f"不予受理家长{request.get_kind_display()}",
        request=str(request.pk),
        kind=request.kind,
        outcome=RequestState.DECLINED,
    )
    _notice(request.link.account, request, f"您提交的{request.get_kind_display()}学校未予受理。")
    return request


@transaction.atomic
def request_accept(*, actor: Actor, request_id: Any, facts: dict[str, Any] | None = None) -> GuardianRequest:
    """The school confirms a guardian's request (第13、15、16条):

    - an ordinary correction is written by the registrar now (``student_update``: the normal edit, audited,
      values in the record history) — the request is done;
    - a key-field correction becomes a key-data change (第13条) with the evidence the school names
      (``facts["evidence_ref"]``); 休学/复学 (第16条) and, at the receiving school, 转学 (第15条, ``facts["class_name"]``)
      become the normal change request, submitted by the registrar and approved along its chain.

    The change engine's refusals (a request already in flight, a blackout, a province's limits …) leave
    everything as it was and name the field."""
    request = school_request_get(viewer=actor, request_id=request_id, lock=True)
    _require_open(request)
    facts = facts or {}
    payload = request.payload
    enrollment = (
        Enrollment.objects.select_related("school", "school__org", "person")
        .filter(pk=request.enrollment_id, is_active=True)
        .first()
    )
    if enrollment is None:
        raise ApplicationError("record_inactive", "该学生已不在原学校在读，请不予受理并说明理由")
    change = None
    note = str(facts.get("note") or "").strip()[:200]
    if request.kind == RequestKind.CORRECTION and not payload.get("key"):
        student_update(actor=actor, enrollment=enrollment, changes={payload["field"]: payload["value"]})
        request.state = RequestState.DONE
        event, text = EventKind.APPLIED, f"您提交的{request.get_kind_display()}学校已审核通过，信息已更正。"
    else:
        if request.kind == RequestKind.CORRECTION:
            kind = ChangeKind.KEY_DATA_CHANGE
            change_facts = {
                payload["field"]: payload["value"],
                "evidence_ref": str(facts.get("evidence_ref") or "").strip(),
                "reason_text": payload.get("note", ""),
            }
            target = None
            reason = ""
        elif request.kind == RequestKind.SUSPENSION:
            kind = ChangeKind.SUSPENSION
            change_facts = {
                "reason": payload["reason"],
                "start_date": payload["start_date"],
                "end_date": payload["end_date"],
                "applicant_name": request.link.guardian_name,
            }
            target, reason = None, payload["reason"]
        elif request.kind == RequestKind.RESUMPTION:
            kind = ChangeKind.RESUMPTION
            change_facts = {
                "resume_date": payload["resume_date"],
                "grade_choice": str(facts.get("grade_choice") or ""),
                "class_name": str(facts.get("class_name") or ""),
            }
            target, reason = None, ""
        else:
            kind = ChangeKind.TRANSFER
            change_facts = {
                "class_name": str(facts.get("class_name") or ""),
                "reason_text": payload.get("reason", ""),
            }
            target, reason = request.school, ""
        change = change_submit(
            actor=actor,
            kind=kind,
            enrollment=enrollment,
            target_school=target,
            facts=change_facts,
            reason=reason,
            note=f"家长申请（家长端）{note and '：' + note}",
        )
        request.state, request.change_request = RequestState.ACCEPTED, change
        event = EventKind.ACCEPTED
        text = f"您提交的{request.get_kind_display()}学校已受理，正在按规定办理。"
    request.decided_by, request.decided_at = actor, timezone.now()
    request.save(update_fields=["state", "change_request", "decided_by", "decided_at"])
    _event(request, event, note)
    _audit_staff(
        EventType.GUARDIAN_REQUEST_DECIDED,
        actor=actor,
        enrollment=request.enrollment,
        summary=f"受理家长{request.get_kind_display()}",
        request=str(request.pk),
        kind=request.kind,
        outcome=str(request.state),
    )
    _notice(request.link.account, request, text)
    return request


def notices_read(*, account: GuardianAccount) -> int:
    """Mark the guardian's notices as read (the home page shows them once bold)."""
    return GuardianNotice.objects.filter(account=account, read_at__isnull=True).update(read_at=timezone.now())


def person_of(link: GuardianLink) -> Person:
    return Person.objects.get(pk=link.person_id)


@dataclass(frozen=True)
class PurgeReport:
    captchas: int
    codes: int
    sessions: int
    counters: int


def expired_purge(*, now: datetime | None = None) -> PurgeReport:
    """Delete what has no use any more (daily task): captchas and SMS codes past their expiry (they keep only
    hashes, but need not be kept), sessions ended or idle for more than a day, and ended rate windows."""
    now = now or timezone.now()
    day = now - timedelta(days=1)
    captchas, _ = Captcha.objects.filter(expires_at__lt=now).delete()
    codes, _ = LoginCode.objects.filter(expires_at__lt=now).delete()
    sessions, _ = GuardianSession.objects.filter(Q(ended_at__lt=day) | Q(last_seen_at__lt=day)).delete()
    return PurgeReport(captchas=captchas, codes=codes, sessions=sessions, counters=limits.purge(now=now))
