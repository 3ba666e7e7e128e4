"""Approved, de-identified exports (《中小学生学籍管理办法》第24条; issue 11 §4; security.md §0, §2.3, tests 18–19).

第24条: student data leaves the system only where a law requires it or a people's government at county level or
above approved it; the approval is recorded — authority, document number, fields, purpose, period — with the
approver, who answers for it (谁批准谁负责); exported data is 脱敏/匿名化 and used only within the approved scope.

The path, one service per step:

1. :func:`export_request_create` — the requester names purpose, recipient, legal basis (authority, its level,
   document number), the fields (from the source's allow-list), the scope unit (inside their jurisdiction, else
   NotFound and nothing is written), the filters and the period of use; optionally identified output.
   :func:`export_submit` sends a draft for approval.
2. :func:`export_approve` / :func:`export_reject` — an approver of the requester's upper level (or the level a
   province's rule names; a national requester: another national approver) decides, with a verified second
   factor; never their own request. The approval record is canonicalised (RFC 8785) and signed with the
   platform's Ed25519 and SM2 keys (:mod:`xueji.audit.signing`); :func:`approval_verify` checks it.
3. :func:`export_build` (queue task) — verifies the signed approval first (a term changed since fails the
   build), then writes the file: de-identified unless the approval says identified
   (:mod:`xueji.exports.deidentify`; 学籍号 and ID numbers masked in every case; an approved exact statistics
   or flows table is the statistics page's table as it stands — no small-cell suppression, the months asked
   for, the page's rows and order), watermarked, SM4-GCM encrypted
   (:mod:`xueji.exports.crypto`), 0600 under ``var/exports/``; openpyxl's plaintext spill files stay in
   ``var/exports/tmp/``; the per-export pseudonym key is destroyed once the file is written.
4. :func:`export_download` — the requester only, still holding the unit now, the approval still verifying,
   within the expiry, with a verified second factor; every download is audited. :func:`exports_expire` deletes
   files past their expiry.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import rfc8785
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from xueji.accounts import factors
from xueji.accounts.jurisdiction import data_grants, in_scope
from xueji.accounts.types import Actor
from xueji.audit import signing
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.core.pagination import capped_count
from xueji.imports.export import COLUMNS_BY_KEY, ROSTER_COLUMNS, cell_value, roster_columns
from xueji.imports.queries import roster_queryset, roster_school, roster_units
from xueji.imports.services import roster_export_max_rows
from xueji.policies.queries import rule_set_in_force
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.statistics.models import FlowKind
from xueji.statistics.queries import (
    DIMENSIONS,
    SPLITS,
    Breakdown,
    breakdown,
    flow_period,
    flows,
    is_school,
    snapshot_date,
)
from xueji.students.models import Person

from . import crypto, deidentify
from .enums import AuthorityLevel, Source, State
from .models import ExportRequest
from .queries import can_approve

LEVEL_ORDER = [OrgLevel.SCHOOL, OrgLevel.COUNTY, OrgLevel.CITY, OrgLevel.PROVINCE, OrgLevel.NATIONAL]
MAX_TEXT = {"purpose": 300, "recipient": 120, "legal_basis": 200, "authority": 120, "document_number": 60}
REQUIRED_LABELS = {
    "purpose": "用途",
    "recipient": "接收方",
    "legal_basis": "法律依据或批准文件",
    "authority": "批准机关",
    "document_number": "批准文号",
}


class Gone(ApplicationError):
    status = 410


# ------------------------------------------------------------------------------------------ settings
def exports_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def file_hours() -> int:
    """How long a built file is kept at most (``XUEJI_EXPORT_FILE_HOURS``, default 72)."""
    return int(getattr(settings, "XUEJI_EXPORT_FILE_HOURS", 72))


def max_period_days() -> int:
    return int(getattr(settings, "XUEJI_EXPORT_MAX_PERIOD_DAYS", 366))


# ------------------------------------------------------------------------------------------ allow-lists
def allowed_fields(source: str) -> dict[str, str]:
    """The fields a source may export, key → Chinese label (the allow-list; anything else is refused)."""
    if source == Source.ROSTER:
        return {c.key: str(c.header) for c in ROSTER_COLUMNS}
    if source == Source.STATISTICS:
        return {k: str(v) for k, v in DIMENSIONS.items()}
    if source == Source.FLOWS:
        return {k.value: str(k.label) for k in FlowKind}
    return {}


def _unit_for(actor: Actor, source: str, unit_id: Any) -> OrgUnit:
    """The scope unit: inside the requester's jurisdiction for the source, else NotFound (第5、23条)."""
    unit = OrgUnit.objects.filter(pk=unit_id).first() if str(unit_id or "").isdigit() else None
    if unit is None:
        raise NotFound()
    if source == Source.ROSTER:
        if unit.pk not in {u.pk for u in roster_units(actor)}:
            raise NotFound()
    elif not in_scope(actor, unit.path):
        raise NotFound()
    return unit


def _clean_filters(
    source: str, unit: OrgUnit, fields: list[str], raw: dict[str, Any], *, exact: bool = False
) -> dict[str, Any]:
    """The filters of the source, validated (codes only, never personal data). Flows: ``from``/``to`` are the
    whole calendar years of the de-identified table; a request for exact numbers (``exact``) also records the
    months asked for (``exact_from``/``exact_to``), used only when the approver opts in (第24条)."""
    if source == Source.ROSTER:
        code = str(raw.get("school") or "").strip()
        school = None
        if unit.level == OrgLevel.SCHOOL:
            school = roster_school(unit=unit, school_code=unit.code)
        elif code:
            school = roster_school(unit=unit, school_code=code)
            if school is None:
                raise FieldError("school", "invalid_school", f"所选范围内没有学校标识码为 {code} 的在办学校")
        grade = _grade(raw.get("grade"))
        class_name = str(raw.get("class_name") or "").strip()[:30]
        if class_name and school is None:
            raise FieldError("class_name", "class_needs_school", "按班级导出时，请先填写学校标识码")
        return {
            "school": school.school_code if school is not None else "",
            "grade": grade,
            "class_name": class_name,
        }
    if source == Source.STATISTICS:
        by = fields[0]
        split = fields[1] if len(fields) > 1 else ""
        if split and (split not in SPLITS or split == by):
            raise FieldError("fields", "invalid_split", "第二个字段只能是性别（分组），且不能与统计维度相同")
        if len(fields) > 2:
            raise FieldError("fields", "invalid_fields", "统计表最多选择一个统计维度和一个分组维度")
        grade = _grade(raw.get("grade"))
        if grade is not None and not is_school(unit):
            raise FieldError("grade", "grade_school_only", "只有学校的统计可以按年级")
        if by == "class" and grade is None:
            raise FieldError("grade", "grade_required", "按班级统计须指定学校和年级")
        day = _request_snapshot(raw.get("as_of"))
        # The snapshot the table is read from, pinned (the page's date, else the latest): what is approved is
        # the table of that date, whenever the file is built.
        return {"grade": grade, "as_of": day.isoformat()} if day is not None else {"grade": grade}
    start, end = flow_period(raw.get("from"), raw.get("to"))
    # Whole calendar years, each its own table: the table of a year (and what it hides) is the same in every
    # export that covers it, so exports of overlapping periods cannot be subtracted from one another.
    years = {"from": f"{start.year:04d}-01", "to": f"{end.year:04d}-12"}
    if exact:
        # The months of the page, kept for an approved exact export (the approver sees both in the record).
        return {**years, "exact_from": f"{start:%Y-%m}", "exact_to": f"{end:%Y-%m}"}
    return years


def _request_snapshot(value: Any) -> date | None:
    """The statistics snapshot a request names (``as_of``, ``YYYY-MM-DD``: the latest on or before it) or the
    latest one; None before the first snapshot. A malformed date or one before every snapshot: a field error."""
    try:
        return snapshot_date(value or None)
    except NotFound:
        raise FieldError("as_of", "no_snapshot", "统计日期：该日期及之前没有统计快照") from None


def _pinned_snapshot(export: ExportRequest) -> date | None:
    """The snapshot date a statistics export reads (第24条: only what was approved is built): the one its approved
    filters name — still kept, else the build fails rather than read another date's numbers — or, for a request
    filed without one, the latest. Resolved once per build (kept on the instance), so a rebuild committing
    meanwhile cannot make the 说明 sheet's date differ from the numbers'."""
    cached: date | None = export.__dict__.get("_pinned_snapshot", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached
    day = _resolve_pinned(export)
    export.__dict__["_pinned_snapshot"] = day
    return day


_UNRESOLVED: Any = object()


def _resolve_pinned(export: ExportRequest) -> date | None:
    pinned = (export.filters or {}).get("as_of")
    if not pinned:
        return snapshot_date()
    try:
        day = snapshot_date(pinned)
    except (NotFound, FieldError):
        day = None
    if day is None or day.isoformat() != pinned:
        raise ApplicationError(
            "export_snapshot_gone", f"统计日期 {pinned} 的统计快照已不再保留，文件未生成，请重新申请"
        )
    return day


def _grade(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if (isinstance(value, int) or (isinstance(value, str) and value.isdigit())) and 1 <= int(value) <= 12:
        return int(value)
    raise FieldError("grade", "invalid_grade", "年级无效：应为 1–12")


def _clean_fields(source: str, fields: Sequence[str]) -> list[str]:
    """The chosen fields, each from the source's allow-list (security.md test 18: outside scope → refused)."""
    allowed = allowed_fields(source)
    chosen = [str(f) for f in fields or []]
    if not chosen:
        raise FieldError("fields", "fields_required", "导出字段：请至少选择一个字段")
    outside = [f for f in chosen if f not in allowed]
    if outside:
        raise FieldError(
            "fields", "field_not_allowed", f"导出字段：{'、'.join(outside)} 不在可导出的字段范围内"
        )
    if len(set(chosen)) != len(chosen):
        raise FieldError("fields", "duplicate_fields", "导出字段：同一字段只能选择一次")
    if source == Source.ROSTER:  # catalogue order
        return [c.key for c in ROSTER_COLUMNS if c.key in chosen]
    if source == Source.FLOWS:
        # Every kind, always: a table of a subset of kinds next to one of all kinds would give away by
        # difference the cells one of them hides (docs/exports.md, small-cell suppression).
        return [k.value for k in FlowKind]
    return chosen


def _check_basis(data: dict[str, Any], today: date) -> None:
    """第24条: the legal basis or approval is recorded in full — authority (a people's government at county level
    or above, or a law), its document number, purpose, recipient and the period of use — or nothing is filed."""
    errors: dict[str, str] = {}
    for key, label in REQUIRED_LABELS.items():
        value = str(data.get(key) or "").strip()
        if not value:
            errors[key] = f"{label}为必填项"
        elif len(value) > MAX_TEXT[key]:
            errors[key] = f"{label}不能超过 {MAX_TEXT[key]} 个字符"
    if data.get("authority_level") not in AuthorityLevel.values:
        errors["authority_level"] = "批准机关级别：须为法律、行政法规规定或县级以上人民政府批准"
    start, end = data.get("period_start"), data.get("period_end")
    if not isinstance(start, date):
        errors["period_start"] = "使用期限起为必填项"
    if not isinstance(end, date):
        errors["period_end"] = "使用期限止为必填项"
    if isinstance(start, date) and isinstance(end, date):
        if end < start:
            errors["period_end"] = "使用期限止不能早于使用期限起"
        elif end < today:
            errors["period_end"] = "使用期限已过，不能再申请导出"
        elif (end - start).days > max_period_days():
            errors["period_end"] = f"使用期限最长 {max_period_days()} 天"
    if errors:
        raise ApplicationError(
            "invalid_export_request", "导出申请不完整：" + "；".join(errors.values()), errors
        )


def _check_size(*, source: str, actor: Actor, unit: OrgUnit, filters: dict[str, Any]) -> None:
    """A roster export holds at most ``XUEJI_ROSTER_EXPORT_MAX_ROWS`` students (the roster export's own cap,
    :func:`xueji.imports.services.roster_export_max_rows`): refused at the request and again at the approval,
    naming the scope field."""
    if source != Source.ROSTER:
        return
    limit = roster_export_max_rows()
    school = School.objects.filter(school_code=filters["school"]).first() if filters.get("school") else None
    qs = roster_queryset(
        viewer=actor,
        unit=unit,
        school=school,
        grade=filters.get("grade"),
        class_name=filters.get("class_name") or "",
    )
    if capped_count(qs, limit) > limit:
        raise FieldError(
            "unit_id",
            "export_too_large",
            f"范围：所选范围内在籍学生超过 {limit} 人，超出单个导出文件的上限，请按学校、年级或班级缩小范围后分别申请",
        )


# ------------------------------------------------------------------------------------------ approver
def home_unit(actor: Actor, unit: OrgUnit) -> OrgUnit:
    """The unit of the requester's own grant that covers ``unit`` — the HIGHEST one (谁批准谁负责: the approval
    comes from above everything the requester holds over that unit, never from a colleague at the same level
    as one of their grants)."""
    covering = [g.org_unit for g in data_grants(actor) if unit.path.startswith(g.org_unit.path)]
    if not covering:
        raise NotFound()
    return min(covering, key=lambda u: len(u.path))


def _ancestors(unit: OrgUnit) -> list[OrgUnit]:
    ids = [int(x) for x in unit.path.strip("/").split("/") if x]
    found = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def approving_unit_for(actor: Actor, unit: OrgUnit) -> OrgUnit:
    """Who approves (谁批准谁负责): by default the department directly above the requester's own unit; a
    province may name a level in its rules (``{"exports": {"approving_level": "city"}}``) — used when that level
    lies above the requester; a national requester is approved by another national approver."""
    home = home_unit(actor, unit)
    chain = _ancestors(home)  # national → … → home
    above = [u for u in chain if u.pk != home.pk]
    if not above:
        return home  # the ministry: another national approver
    level = _province_approving_level(unit.province_code)
    if level:
        named = [u for u in above if u.level == level]
        if named:
            return named[-1]
    return above[-1]


def _province_approving_level(province_code: str) -> str:
    if not province_code:
        return ""
    rules = rule_set_in_force(province_code, timezone.localdate())
    section = (rules.rules if rules is not None else {}).get("exports") or {}
    level = section.get("approving_level", "") if isinstance(section, dict) else ""
    return level if level in {OrgLevel.COUNTY, OrgLevel.CITY, OrgLevel.PROVINCE, OrgLevel.NATIONAL} else ""


# ------------------------------------------------------------------------------------------ request
def _audit(event: EventType, actor: Actor | None, export: ExportRequest, summary: str, **after: Any) -> None:
    record(
        event_type=event,
        actor=actor,
        subject_type="export_request",
        subject_id=export.pk,
        org_unit_id=export.org_unit_id,
        province_code=export.province_code,
        summary=summary,
        after={"request": str(export.pk), "kind": export.source, "state": export.state, **after},
    )


def export_request_create(
    *,
    actor: Actor,
    source: str,
    unit_id: Any,
    fields: Sequence[str],
    filters: dict[str, Any] | None = None,
    purpose: str,
    recipient: str,
    legal_basis: str,
    authority: str,
    authority_level: str,
    document_number: str,
    period_start: date | None,
    period_end: date | None,
    identified: bool = False,
    generalise_school: bool = False,
    submit: bool = True,
) -> ExportRequest:
    """File an export request (submitted for approval, or a draft). Refused, with nothing written: a unit
    outside the requester's jurisdiction (NotFound), a field outside the source's allow-list, a missing or
    incomplete legal basis, a period already over (第24条)."""
    if source not in Source.values:
        raise FieldError("source", "invalid_source", "导出内容无效")
    unit = _unit_for(actor, source, unit_id)
    clean = _clean_fields(source, fields)
    data = {
        "purpose": purpose,
        "recipient": recipient,
        "legal_basis": legal_basis,
        "authority": authority,
        "authority_level": authority_level,
        "document_number": document_number,
        "period_start": period_start,
        "period_end": period_end,
    }
    _check_basis(data, timezone.localdate())
    clean_filters = _clean_filters(source, unit, clean, filters or {}, exact=bool(identified))
    _check_size(source=source, actor=actor, unit=unit, filters=clean_filters)
    approving = approving_unit_for(actor, unit)
    assert isinstance(period_start, date) and isinstance(period_end, date)  # checked above
    with transaction.atomic():
        export = ExportRequest.objects.create(
            requested_by=actor,
            org_unit=unit,
            province_code=unit.province_code,
            scope_path=unit.path,
            source=source,
            fields=clean,
            filters=clean_filters,
            purpose=purpose.strip(),
            recipient=recipient.strip(),
            legal_basis=legal_basis.strip(),
            authority=authority.strip(),
            authority_level=authority_level,
            document_number=document_number.strip(),
            period_start=period_start,
            period_end=period_end,
            identified=bool(identified),
            generalise_school=bool(generalise_school),
            approving_unit=approving,
            state=State.SUBMITTED if submit else State.DRAFT,
            submitted_at=timezone.now() if submit else None,
        )
        _audit(
            EventType.EXPORT_REQUESTED,
            actor,
            export,
            f"申请导出{unit.name}{export.get_source_display()}",
            keys=clean,
            masked=not export.identified,
        )
    return export


def export_submit(*, actor: Actor, export: ExportRequest) -> ExportRequest:
    """Send a draft for approval (its requester only; the period must not be over)."""
    with transaction.atomic():
        locked = ExportRequest.objects.select_for_update().get(pk=export.pk)
        if locked.requested_by_id != actor.pk:
            raise NotFound()
        if locked.state != State.DRAFT:
            raise Conflict("export_not_draft", "只有草稿可以提交审批")
        _unit_for(actor, locked.source, locked.org_unit_id)
        if locked.period_end < timezone.localdate():
            raise FieldError("period_end", "export_period_over", "使用期限已过，不能再提交")
        locked.state = State.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["state", "submitted_at"])
        _audit(EventType.EXPORT_SUBMITTED, actor, locked, "提交数据导出申请")
    return locked


# ------------------------------------------------------------------------------------------ decision
def approval_record(export: ExportRequest) -> dict[str, Any]:
    """What the approver answers for (谁批准谁负责), as signed: every term of the approval, no personal data
    of students. Canonicalised with RFC 8785 before signing."""
    return {
        "type": "xueji.export-approval/1",
        "request": str(export.pk),
        "requester": {"id": export.requested_by_id, "username": export.requested_by.get_username()},
        "unit": {"id": export.org_unit_id, "code": export.org_unit.code, "name": export.org_unit.name},
        "source": export.source,
        "fields": list(export.fields),
        "filters": dict(export.filters or {}),
        "purpose": export.purpose,
        "recipient": export.recipient,
        "legal_basis": export.legal_basis,
        "authority": export.authority,
        "authority_level": export.authority_level,
        "document_number": export.document_number,
        "period": [export.period_start.isoformat(), export.period_end.isoformat()],
        "identified": bool(export.approved_identified),
        "generalise_school": bool(export.generalise_school),
        "approver": {
            "id": export.approver_id,
            "username": export.approver.get_username() if export.approver else "",
        },
        "decided_at": export.decided_at.isoformat() if export.decided_at else "",
    }


def canonical(value: Any) -> bytes:
    return bytes(rfc8785.dumps(value))


def _sign(export: ExportRequest) -> None:
    keys = signing.signing_keys()
    message = canonical(approval_record(export))
    export.signed_record = approval_record(export)
    export.signature_ed25519 = keys[signing.ED25519].sign(message).hex()
    export.signature_sm2 = keys[signing.SM2].sign(message).hex()
    export.signature_kids = {alg: key.kid for alg, key in keys.items()}


def approval_verify(export: ExportRequest) -> bool:
    """The approval record as it stands now verifies under both platform signatures (Ed25519 and SM2): any
    change to a term after approval — fields, purpose, period, approver … — fails."""
    if not export.signature_ed25519 or not export.signature_sm2:
        return False
    kids = export.signature_kids or {}
    return signing.signatures_valid(
        canonical(approval_record(export)),
        (
            (kids.get(signing.ED25519, ""), export.signature_ed25519, signing.ED25519),
            (kids.get(signing.SM2, ""), export.signature_sm2, signing.SM2),
        ),
        signing.public_keys(),
    )


def _require_second_factor(second_factor: bool) -> None:
    """Issue 11 §1: approvals are taken with a verified second factor."""
    if factors.enforced() and not second_factor:
        raise Forbidden("second_factor_required", "审批导出申请须先完成第二身份鉴别（身份验证器）")


def _decidable(actor: Actor, export_id: Any) -> ExportRequest:
    try:
        locked = (
            ExportRequest.objects.select_for_update(of=("self",))
            .select_related("org_unit", "requested_by", "approving_unit")
            .get(pk=export_id)
        )
    except (ExportRequest.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound() from None
    if locked.requested_by_id == actor.pk:
        raise Forbidden("self_approval", "不能审批本人提出的导出申请")
    if not can_approve(actor, locked):
        raise NotFound()
    if locked.state != State.SUBMITTED:
        raise Conflict("export_not_submitted", "该申请不在待审批状态")
    return locked


def export_approve(
    *, actor: Actor, export_id: Any, second_factor: bool, note: str = "", identified: bool = False
) -> ExportRequest:
    """Approve (第24条 谁批准谁负责): the approver of the approving unit or above, never the requester, with a
    verified second factor, before the period is over. The output is de-identified unless the request asked
    for identified data (statistics and flows: the page's exact numbers) AND the approver opts in explicitly
    (``identified=True``). A roster over the row cap
    is refused. The approval record is signed; the build is queued in the same transaction."""
    from .tasks import build_export  # noqa: PLC0415 - tasks import services

    _require_second_factor(second_factor)
    with transaction.atomic():
        export = _decidable(actor, export_id)
        if export.period_end < timezone.localdate():
            raise FieldError("period_end", "export_period_over", "使用期限已过，不能再批准")
        _check_size(
            source=export.source,
            actor=export.requested_by,
            unit=export.org_unit,
            filters=export.filters or {},
        )
        export.state = State.APPROVED
        export.approver = actor
        export.decided_at = timezone.now().replace(microsecond=0)
        export.decision_note = (note or "").strip()[:300]
        export.approved_identified = bool(export.identified) and identified is True
        export.pseudonym_key = crypto.new_pseudonym_key()
        _sign(export)
        export.save()
        _audit(
            EventType.EXPORT_APPROVED,
            actor,
            export,
            f"批准数据导出申请（{export.document_number}）",
            masked=not export.approved_identified,
        )
        result = build_export.enqueue(str(export.pk))
        ExportRequest.objects.filter(pk=export.pk).update(task_id=str(result.id))
    return export


def export_reject(*, actor: Actor, export_id: Any, second_factor: bool, note: str) -> ExportRequest:
    """Refuse a request, with the reason (required), under the same conditions as an approval."""
    _require_second_factor(second_factor)
    reason = (note or "").strip()
    if not reason:
        raise FieldError("note", "note_required", "审批意见：不批准时须说明理由")
    with transaction.atomic():
        export = _decidable(actor, export_id)
        export.state = State.REJECTED
        export.approver = actor
        export.decided_at = timezone.now().replace(microsecond=0)
        export.decision_note = reason[:300]
        export.save(update_fields=["state", "approver", "decided_at", "decision_note"])
        _audit(EventType.EXPORT_REJECTED, actor, export, "不批准数据导出申请")
    return export


# ------------------------------------------------------------------------------------------ build
def _expiry(export: ExportRequest, now: datetime) -> datetime:
    end = timezone.make_aware(datetime.combine(export.period_end + timedelta(days=1), time.min))
    return min(end, now + timedelta(hours=file_hours()))


def _watermark(export: ExportRequest, now: datetime) -> str:
    who = str(export.requested_by)
    return f"{who} · 申请 {export.pk} · {timezone.localtime(now):%Y-%m-%d %H:%M} · 仅限批准用途使用"


def _deid_text(export: ExportRequest) -> str:
    if export.source == Source.ROSTER and export.approved_identified:
        return "可识别个人的数据（经批准）：学籍号和身份证件号一律脱敏显示（不导出全号）"
    if export.source == Source.ROSTER:
        parts = [
            "去标识化（GB/T 37964）：删除姓名、学籍号、身份证件号、班内学号等直接标识符",
            "以本次导出专用密钥生成假名编号（密钥已销毁）",
            "出生日期泛化为年份，注册时间泛化为年月",
            f"准标识符组合少于 {deidentify.k_threshold()} 人的记录已删除（k-匿名）",
        ]
        if export.generalise_school:
            parts.append("学校泛化为所在区县")
        return "；".join(parts)
    if export.approved_identified:
        text = (
            "精确统计数（经审批人明确批准，第二十四条）：未做小单元格抑制，行、列及顺序与统计页面一致，"
            "每个数字与统计页面和统计接口相同"
        )
        if export.source == Source.FLOWS:
            text += "；统计期间为申请的月份，未扩展为整年"
        return text
    text = (
        f"统计表：少于 {deidentify.cell_threshold()} 人的单元格（含合计）显示为“{deidentify.suppressed_label()}”；"
        f"为使被隐藏的数字无法由合计推算，另有单元格补充隐藏，显示为“{deidentify.COMPLEMENTARY}”"
        f"（其人数可能多于 {deidentify.cell_threshold()} 人，也可能少于）；每行、每列被隐藏单元格的人数之和"
        f"不少于 {deidentify.cell_threshold()}"
    )
    if export.source == Source.FLOWS:
        text += "；学籍变动按自然年逐年成表，每年一张工作表，始终包含全部变动类别"
    return text


def _scope_notes(export: ExportRequest) -> list[tuple[str, str]]:
    """The statistics' date (the snapshot the numbers come from) or the flows' months, on the 说明 sheet."""
    if export.source == Source.STATISTICS:
        day = _pinned_snapshot(export)
        return [("统计日期", day.isoformat() if day else "统计快照尚未生成")]
    if export.source == Source.FLOWS:
        filters = export.filters or {}
        if export.approved_identified and filters.get("exact_from"):
            return [("统计期间", f"{filters['exact_from']} 至 {filters.get('exact_to', '')}")]
        return [("统计期间", f"{filters.get('from', '')} 至 {filters.get('to', '')}（整年）")]
    return []


def _notes(export: ExportRequest, now: datetime, count: int, suppressed: int) -> list[tuple[str, str]]:
    approver = export.approver
    return [
        ("申请编号", str(export.pk)),
        ("申请人", str(export.requested_by)),
        ("导出时间", f"{timezone.localtime(now):%Y-%m-%d %H:%M}"),
        ("导出内容", f"{export.org_unit.name} · {export.get_source_display()}"),
        ("导出字段", "、".join(allowed_fields(export.source).get(f, f) for f in export.fields)),
        ("用途", export.purpose),
        ("接收方", export.recipient),
        ("法律依据或批准文件", export.legal_basis),
        ("批准机关", f"{export.authority}（{export.get_authority_level_display()}）"),
        ("批准文号", export.document_number),
        ("使用期限", f"{export.period_start.isoformat()} 至 {export.period_end.isoformat()}"),
        ("审批人", str(approver) if approver else ""),
        (
            "审批时间",
            f"{timezone.localtime(export.decided_at):%Y-%m-%d %H:%M}" if export.decided_at else "",
        ),
        *_scope_notes(export),
        ("去标识化处理", _deid_text(export)),
        ("数据行数", str(count)),
        ("隐藏的记录或单元格", str(suppressed)),
        ("审批签名密钥", "；".join(f"{k}" for k in (export.signature_kids or {}).values())),
        (
            "说明",
            "本文件依《中小学生学籍管理办法》第二十四条经批准导出，仅限上述用途和期限内使用，不得转交他人。",
        ),
    ]


def _roster_qs(export: ExportRequest) -> Any:
    filters = export.filters or {}
    school = None
    if filters.get("school"):
        school = School.objects.filter(school_code=filters["school"]).first()
        if school is None:
            raise NotFound()
    return roster_queryset(
        viewer=export.requested_by,
        unit=export.org_unit,
        school=school,
        grade=filters.get("grade"),
        class_name=filters.get("class_name") or "",
    )


def _roster_deid_columns(export: ExportRequest) -> list[tuple[str, str, str]]:
    """(key, header, value path) of a de-identified roster's quasi-identifier columns."""
    out = []
    for column in roster_columns(export.fields):
        if column.key in deidentify.DIRECT_IDENTIFIERS:
            continue
        path = column.field
        header = str(column.header)
        if export.generalise_school and column.key in {"school", "school_code"}:
            if column.key == "school_code":
                continue  # the county name stands for both
            path, header = "school__org__parent__name", "所在区县"
        if column.key == "birth_date":
            header = "出生年份"
        if column.key == "registered_at":
            header = "注册年月"
        out.append((column.key, header, path))
    return out


def _deid_value(key: str, value: Any) -> Any:
    column = COLUMNS_BY_KEY.get(key)
    if key in {"birth_date", "registered_at"}:
        if key == "registered_at" and isinstance(value, datetime):
            value = timezone.localtime(value)
        return deidentify.generalise(key, value)
    if column is None or key == "school":
        return value
    return cell_value(column, value, full_number=False)


class _Changed(Exception):
    """Records changed between the counting pass and the writing pass: write the file again."""


def _write_roster_deid(export: ExportRequest, book: Any, key: bytes) -> tuple[int, int]:
    """k-anonymous, pseudonymised microdata (deidentify): one pass counts the classes of quasi-identifiers, a
    second writes the records of classes of at least k. Should records change in between, the written classes
    are checked and the file is written again (:class:`_Changed`), so every class in the file has ≥ k rows."""
    columns = _roster_deid_columns(export)
    paths = [p for _k, _h, p in columns]
    k = deidentify.k_threshold()
    qs = _roster_qs(export)

    def classes() -> Iterator[tuple[str, tuple[Any, ...]]]:
        for row in _plain_rows(qs, paths):
            yield str(row[0]), tuple(_deid_value(c[0], v) for c, v in zip(columns, row[1:], strict=True))

    counts = Counter(qi for _pid, qi in classes())
    allowed = {qi for qi, n in counts.items() if n >= k}
    written: Counter[tuple[Any, ...]] = Counter()

    def rows() -> Iterator[list[Any]]:
        for pid, qi in classes():
            if qi in allowed:
                written[qi] += 1
                yield [crypto.pseudonym(key, pid), *qi]

    headers = ["假名编号", *(h for _k, h, _p in columns)]
    count = book.table("学生名册（去标识化）", headers, rows(), widths=[20] + [14] * len(columns))
    if any(n < k for n in written.values()):
        raise _Changed()
    return count, sum(counts.values()) - count


def _plain(paths: Sequence[str]) -> list[Any]:
    """For each value path, how to turn what ``values_list`` read into plaintext: a column of ``Person`` stored
    encrypted at rest (``from_plaintext``: :mod:`xueji.core.fieldcrypto`) is decrypted with the person's id;
    other columns as read."""
    out: list[Any] = []
    for path in paths:
        field = None
        if path.startswith("person__") and "__" not in path[len("person__") :]:
            field = Person._meta.get_field(path[len("person__") :])
        if field is not None and hasattr(field, "from_plaintext"):
            from xueji.core import fieldcrypto  # noqa: PLC0415 - only for encrypted columns

            out.append(lambda pk, value, f=field: fieldcrypto.decrypt_value(f, pk, value))
        else:
            out.append(None)
    return out


def _plain_rows(qs: Any, paths: list[str]) -> Iterator[tuple[Any, ...]]:
    """``(person_id, *values)`` of ``qs`` with encrypted columns decrypted, streamed."""
    plain = _plain(paths)
    for row in qs.values_list("person_id", *paths).iterator(chunk_size=2000):
        pk = row[0]
        yield (pk, *(v if p is None else p(pk, v) for p, v in zip(plain, row[1:], strict=True)))


def _write_roster_identified(export: ExportRequest, book: Any) -> tuple[int, int]:
    """Identified roster (only where the approval says so): names and the other approved columns as the
    roster shows them, but 学籍号 (which embeds the ID number) and ID numbers always masked — the approval
    record has no term for full numbers, so none leave the system (第24条 脱敏)."""
    columns = roster_columns(export.fields)
    paths = [c.field for c in columns]
    qs = _roster_qs(export)
    rows = (
        [cell_value(c, v, full_number=False) for c, v in zip(columns, row[1:], strict=True)]
        for row in _plain_rows(qs, paths)
    )
    formats = {i: "yyyy-mm-dd" for i, c in enumerate(columns) if c.show == "date"}
    formats.update({i: "yyyy-mm-dd hh:mm" for i, c in enumerate(columns) if c.show == "datetime"})
    count = book.table(
        f"{export.org_unit.name}学生名册",
        [str(c.header) for c in columns],
        rows,
        widths=[c.width for c in columns],
        formats=formats,
    )
    return count, 0


def suppressed_rows(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], part_labels: Sequence[str]
) -> tuple[list[str], list[list[Any]], int]:
    """A counts table with its margins, small cells hidden (deidentify.suppress): headers, rows (the last one
    the totals), number of hidden entries."""
    table = deidentify.Table.of(matrix)
    hidden = deidentify.suppress(table)
    primary = deidentify.primary(table)
    mark = deidentify.suppressed_label()

    def show(entry: tuple[Any, ...]) -> Any:
        if entry not in hidden:
            return table.values[entry]
        return mark if entry in primary else deidentify.COMPLEMENTARY

    multi = len(part_labels) > 1
    headers = ["人数", *part_labels] if multi else ["人数"]
    rows: list[list[Any]] = []
    for i, label in enumerate(labels):
        if multi:
            rows.append([label, show(("r", i)), *(show(("c", i, j)) for j in range(len(part_labels)))])
        else:
            rows.append([label, show(("c", i, 0))])
    if multi:
        rows.append(["合计", show(("t",)), *(show(("k", j)) for j in range(len(part_labels)))])
    else:
        rows.append(["合计", show(("t",))])
    return headers, rows, len(hidden)


def _write_statistics(export: ExportRequest, book: Any) -> tuple[int, int]:
    by = export.fields[0]
    split = export.fields[1] if len(export.fields) > 1 else None
    grade = (export.filters or {}).get("grade")
    table = breakdown(unit=export.org_unit, by=by, grade=grade, split=split, as_of=_pinned_snapshot(export))
    if export.approved_identified:
        return _write_statistics_exact(table, book), 0
    labels = [r.label for r in table.rows]
    if table.parts:
        matrix = [[r.parts.get(p.key, 0) for p in table.parts] for r in table.rows]
        parts = [p.label for p in table.parts]
    else:
        matrix = [[r.count] for r in table.rows]
        parts = []
    title = _title(table)
    if not labels:
        return book.table(title, [title, "人数"], [["合计", 0]]), 0
    headers, rows, hidden = suppressed_rows(labels, matrix, parts)
    count = book.table(title, [title, *headers], rows, widths=[24] + [12] * len(headers))
    return count, hidden


def _title(table: Breakdown) -> str:
    return str(table.title) + (f"（{grade_label(table.grade)}）" if table.grade is not None else "")


def _write_statistics_exact(table: Breakdown, book: Any) -> int:
    """An approved exact statistics table (第24条: the approver opted in): the statistics page's table as it
    stands — its rows in the page's order with the page's labels, the split's columns then 人数, the 合计 row
    — every number as the page and ``GET /api/v1/statistics/counts`` give it, nothing suppressed."""
    parts = list(table.parts)
    rows: list[list[Any]] = [[r.label, *(r.parts.get(p.key, 0) for p in parts), r.count] for r in table.rows]
    rows.append(["合计", *(n for _p, n in table.part_totals), table.total])
    headers = [_title(table), *(p.label for p in parts), "人数"]
    count: int = book.table(_title(table), headers, rows, widths=[24] + [12] * (len(headers) - 1))
    return count


def _write_flows_exact(export: ExportRequest, book: Any) -> int:
    """Approved exact flows (第24条: the approver opted in): the statistics page's monthly table for exactly the
    months asked for (not widened to whole years) — one row per month, every kind in the page's order, the
    合计 row — as the page and ``GET /api/v1/statistics/flows`` give it, nothing suppressed."""
    filters = export.filters or {}
    start, end = flow_period(
        filters.get("exact_from") or filters.get("from"), filters.get("exact_to") or filters.get("to")
    )
    table = flows(unit=export.org_unit, start=start, end=end)
    parts = list(table.parts)
    rows: list[list[Any]] = [[r.label, *(r.parts.get(p.key, 0) for p in parts)] for r in table.rows]
    rows.append(["合计", *(n for _p, n in table.part_totals)])
    title = f"学籍变动{start:%Y%m}-{end:%Y%m}"
    count: int = book.table(title, ["月份", *(p.label for p in parts)], rows, widths=[12] * (len(parts) + 1))
    return count


def flow_years(filters: dict[str, Any]) -> list[int]:
    """The calendar years a flows export covers (its filters are whole years, ``YYYY-01``–``YYYY-12``)."""
    first = int(str(filters.get("from") or "")[:4] or timezone.localdate().year)
    last = int(str(filters.get("to") or "")[:4] or first)
    return list(range(first, last + 1))


def _write_flows(export: ExportRequest, book: Any) -> tuple[int, int]:
    """One table per calendar year, every kind of flow (whatever subset the request named), each suppressed
    on its own: the same year is the same table in every export, so overlapping exports do not difference.
    Approved exact output (``approved_identified``): the months asked for, as the page shows them."""
    if export.approved_identified:
        return _write_flows_exact(export, book), 0
    total_rows = total_hidden = 0
    for year in flow_years(export.filters or {}):
        table = flows(unit=export.org_unit, start=date(year, 1, 1), end=date(year, 12, 1))
        parts = list(table.parts)
        labels = [r.label for r in table.rows]
        matrix = [[r.parts.get(p.key, 0) for p in parts] for r in table.rows]
        headers, rows, hidden = suppressed_rows(labels, matrix, [p.label for p in parts])
        total_rows += book.table(
            f"学籍变动{year}", ["月份", *headers], rows, widths=[12] + [12] * len(headers)
        )
        total_hidden += hidden
    return total_rows, total_hidden


def build_temp_dir() -> Path:
    """Where openpyxl's write-only mode spills the sheets of a file being built (plaintext): a 0700 directory
    under the exports directory, never the system's temporary directory; swept by :func:`exports_expire`."""
    path = exports_dir() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_file(export: ExportRequest, target: Path, now: datetime) -> tuple[int, int]:
    """Write the workbook to ``target``; openpyxl's plaintext spill files live in :func:`build_temp_dir` and are
    removed whatever happens."""
    from .workbook import Book  # noqa: PLC0415 - openpyxl loaded only when a file is written

    spill = build_temp_dir()
    for _attempt in range(3):
        book = Book(_watermark(export, now), spill)
        try:
            try:
                count, hidden = _write_data(export, book)
            except _Changed:
                continue
            book.notes("说明", _notes(export, now, count, hidden))
            book.save(target)
            return count, hidden
        finally:
            book.discard()
    raise ApplicationError("export_data_changed", "生成过程中数据不断变化，请稍后重新申请")


def _write_data(export: ExportRequest, book: Any) -> tuple[int, int]:
    if export.source == Source.ROSTER and export.approved_identified:
        count, hidden = _write_roster_identified(export, book)
    elif export.source == Source.ROSTER:
        key = bytes(export.pseudonym_key or b"")
        if not key:
            raise ApplicationError("pseudonym_key_missing", "本次导出的假名密钥已销毁，请重新申请")
        count, hidden = _write_roster_deid(export, book, key)
    elif export.source == Source.STATISTICS:
        count, hidden = _write_statistics(export, book)
    else:
        count, hidden = _write_flows(export, book)
    return count, hidden


def export_build(*, export_id: Any) -> ExportRequest | None:
    """Queue task body: build an approved export's file. The requester's jurisdiction and the period are
    checked again now; the plain workbook is written 0600 beside its destination, encrypted, and removed; the
    pseudonym key is destroyed with the same write that marks the export ready. The signed approval must still
    verify (第24条: only what was approved is built; a term changed afterwards fails the build, audited). A
    failure leaves no file.
    Returns None when the export is not waiting to be built."""
    export = (
        ExportRequest.objects.select_related("org_unit", "requested_by", "approver")
        .filter(pk=export_id, state=State.APPROVED)
        .first()
    )
    if export is None:
        return None
    directory = exports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    plain = directory / f"{export.pk}.plain"
    final = directory / f"{export.pk}.xlsx.sm4"
    now = timezone.now()
    try:
        if not approval_verify(export):
            raise ApplicationError(
                "export_approval_invalid", "审批记录签名核验未通过（批准后申请内容被改动），文件未生成"
            )
        _unit_for(export.requested_by, export.source, export.org_unit_id)
        if export.period_end < timezone.localdate():
            raise ApplicationError("export_period_over", "使用期限已过，文件未生成")
        os.close(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        count, hidden = _write_file(export, plain, now)
        file_key = crypto.new_file_key()
        aad = str(export.pk).encode()
        final.unlink(missing_ok=True)
        crypto.encrypt_file(plain, final, file_key, aad)
        plain.unlink()
        with transaction.atomic():
            updated = ExportRequest.objects.filter(pk=export.pk, state=State.APPROVED).update(
                state=State.READY,
                file_path=str(final.relative_to(Path(settings.VAR_DIR))),
                wrapped_key=crypto.wrap(file_key, aad),
                pseudonym_key=None,
                row_count=count,
                suppressed=hidden,
                built_at=now,
                expires_at=_expiry(export, now),
                message=f"已生成，共 {count} 行",
            )
            if not updated:
                raise Conflict("export_superseded", "导出申请状态已改变")
            export.refresh_from_db()
            _audit(
                EventType.EXPORT_BUILT,
                None,
                export,
                f"生成数据导出文件 {count} 行",
                count=count,
                masked=not export.approved_identified,
            )
    except ApplicationError as exc:
        plain.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        message = "申请人已无权导出该范围的数据" if isinstance(exc, NotFound) else exc.message
        _build_failed(export, message, exc.code)
    except BaseException:
        plain.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        _build_failed(export, "导出失败（系统错误），请重新申请", "error")
        raise
    export.refresh_from_db()
    return export


def _build_failed(export: ExportRequest, message: str, reason: str) -> None:
    with transaction.atomic():
        ExportRequest.objects.filter(pk=export.pk).update(
            state=State.FAILED, message=message[:300], pseudonym_key=None
        )
        export.refresh_from_db()
        _audit(EventType.EXPORT_BUILD_FAILED, None, export, "数据导出文件生成失败", reason=reason[:60])


# ------------------------------------------------------------------------------------------ download
def export_file_name(export: ExportRequest) -> str:
    kind = export.get_source_display()
    stamp = timezone.localtime(export.built_at or timezone.now())
    return f"{export.org_unit.name}{kind}-{stamp:%Y%m%d}-{str(export.pk)[-8:]}.xlsx"


def export_download(*, actor: Actor, export: ExportRequest, second_factor: bool) -> IO[bytes]:
    """The decrypted file for its requester (``export`` from ``queries.own_export``), within the expiry, with a
    verified second factor; an anonymous temporary file (nothing plain stays on disk). Every download is an
    audit event (第23、24条). Checked again now: the unit is still inside the requester's jurisdiction (a
    registrar whose grants were withdrawn gets NotFound), and the signed approval still verifies."""
    if export.requested_by_id != actor.pk:
        raise NotFound()
    _unit_for(actor, export.source, export.org_unit_id)
    if factors.required_for_export(actor) and not second_factor:
        raise Forbidden("second_factor_required", "下载导出文件须先完成第二身份鉴别（身份验证器）")
    now = timezone.now()
    if export.state == State.EXPIRED or (
        export.state == State.READY and export.expires_at is not None and export.expires_at <= now
    ):
        raise Gone("export_expired", "导出文件已过期并删除，如仍需要请重新申请")
    if export.state != State.READY or not export.file_path or export.wrapped_key is None:
        raise Conflict("export_not_ready", "导出文件尚未生成")
    if not approval_verify(export):
        raise Forbidden("export_approval_invalid", "审批记录签名核验未通过（批准后申请内容被改动），不能下载")
    path = Path(settings.VAR_DIR) / export.file_path
    if not path.exists():
        raise Gone("export_expired", "导出文件已删除，如仍需要请重新申请")
    aad = str(export.pk).encode()
    key = crypto.unwrap(bytes(export.wrapped_key), aad)
    out = tempfile.TemporaryFile(dir=exports_dir())  # noqa: SIM115 - handed to the response, which closes it
    try:
        crypto.decrypt_file(path, out, key, aad)
        out.seek(0)
        with transaction.atomic():
            ExportRequest.objects.filter(pk=export.pk).update(download_count=F("download_count") + 1)
            export.refresh_from_db(fields=["download_count"])
            _audit(
                EventType.EXPORT_DOWNLOADED,
                actor,
                export,
                f"下载数据导出文件（第 {export.download_count} 次）",
                count=export.row_count,
            )
    except BaseException:
        out.close()
        raise
    return out


# ------------------------------------------------------------------------------------------ expiry
def exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry and mark them expired (as are requests whose period is
    over before a decision or a file); stray files of unknown or finished exports go too. Returns the number
    of exports expired."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    expired = 0
    due = ExportRequest.objects.filter(state=State.READY, expires_at__lte=now) | ExportRequest.objects.filter(
        state__in=[State.DRAFT, State.SUBMITTED, State.APPROVED], period_end__lt=today
    )
    for export in due.select_related("org_unit"):
        if export.file_path:
            (Path(settings.VAR_DIR) / export.file_path).unlink(missing_ok=True)
        with transaction.atomic():
            ExportRequest.objects.filter(pk=export.pk).update(
                state=State.EXPIRED, wrapped_key=None, pseudonym_key=None, message="已过期"
            )
            export.refresh_from_db()
            _audit(EventType.EXPORT_EXPIRED, None, export, "数据导出已过期，文件已删除")
        expired += 1
    directory = exports_dir()
    if directory.is_dir():
        keep = {
            Path(p).name
            for p in ExportRequest.objects.filter(state=State.READY).values_list("file_path", flat=True)
        }
        building = {
            name
            for pk in ExportRequest.objects.filter(state=State.APPROVED).values_list("pk", flat=True)
            for name in (f"{pk}.plain", f"{pk}.xlsx.sm4")
        }
        for path in directory.iterdir():
            if path.is_file() and path.name not in keep and path.name not in building:
                path.unlink(missing_ok=True)
        _sweep_spills(directory / "tmp", now)
    return expired


def _sweep_spills(spill: Path, now: datetime) -> None:
    """Spill files of builds (:func:`build_temp_dir`) older than an hour: a build that died with its process."""
    if not spill.is_dir():
        return
    cutoff = now.timestamp() - 3600
    for path in spill.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


__all__ = [
    "approval_record",
    "approval_verify",
    "approving_unit_for",
    "export_approve",
    "export_build",
    "export_download",
    "export_reject",
    "export_request_create",
    "export_submit",
    "exports_expire",
]
