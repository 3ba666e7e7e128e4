"""出境就读 and 境外返回 (第20条).

第20条: a student going to study outside the mainland completes the formalities at the school with valid
documents, and the school hands the archive to the upper department (学籍管理部门). On return a student who
still needs basic education joins the grade matching their study record; the school re-links the archive
and MARKS the overseas study in the record. Admission on return is a province rule.

Decisions:

- Status on leaving: JY/T 1001 has 13 "公派出国" only, which fits state-sponsored study; every other
  departure is recorded as 99 "其他" (the reason is the approved 出境就读 request). The record becomes
  inactive and stays at the school (it is findable there); the archive's custodian becomes the school's
  supervising department (``archive_custodian_id`` in the request facts and the audit).
- The travel document number is validated (护照 with :func:`xueji.students.identity.validate_identity`
  type A) and stored MASKED only: the document itself is evidence attached to the request.
- Return: the receiving school starts it (it cannot see the old record, so it names the student by 学籍号 +
  name), its department approves; a new record at the receiving school, same person and 学籍号. The overseas
  period (from, to, destination) is stored in the request facts AND in the audit event of the applied change;
  :func:`overseas_periods` reads it back for any later reader.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.core.masking import mask_id_number
from xueji.schools.enums import SchoolState
from xueji.students.enums import Nationality, Stage, StudentStatus, grade_range, stage_for_grade
from xueji.students.forms import GRADE_LABELS
from xueji.students.identity import normalise_number, validate_identity
from xueji.students.models import Enrollment, Person
from xueji.students.search import identified_q

from ..enums import ChangeKind, Entry, Party
from ..models import ChangeRequest
from ..workflow import RequestState
from . import register
from .base import Context, KindSpec
from .common import fact_date, move_to_school, set_status
from .facts import Code, Day, Flag, Integer, KindFacts, Text, fact
from .inputs import (
    CHOOSE,
    DESTINATIONS,
    YES_NO,
    KindForm,
    area_input,
    date_input,
    grade_choices,
    select_input,
    text_input,
)
from .stages import valid_entry_method

PUBLIC_ABROAD = StudentStatus.STUDYING_ABROAD_PUBLIC  # 公派出国
OTHER = StudentStatus.OTHER  # 其他

DOCUMENT_TYPES = {
    "A": "护照",
    "hk_macau_permit": "往来港澳通行证",
    "taiwan_permit": "往来台湾通行证",
}
_PERMIT_DESTINATIONS = {"hk_macau_permit": {"HKG", "MAC"}, "taiwan_permit": {"TWN"}}
_PERMIT = re.compile(r"[A-Z0-9]{5,17}", re.ASCII)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "是", "yes", "y"}


def person_by_number(student_number: str, name: str) -> Person:
    """A person found nationally by 学籍号 (or identity number) AND name (both must match, so numbers cannot
    be probed)."""
    q = identified_q(student_number, name)
    person = Person.objects.filter(q).first() if q is not None else None
    if person is None:
        raise NotFound("未找到学籍号（或身份证件号）与姓名均匹配的学生")
    return person


# --- the page's form --------------------------------------------------------------------------------


class AbroadForm(KindForm):
    kind = ChangeKind.ABROAD
    article = _("第二十条")
    intro = _("凭有效证件在学校办理，学校将学籍档案转交上级学籍管理部门。")
    destination = select_input(_("前往国家或地区"), DESTINATIONS)
    document_type = select_input(_("出境证件类型"), list(DOCUMENT_TYPES.items()))
    document_number = text_input(_("证件号码"), required=True, max_length=20, autocomplete="off")
    departure_date = date_input(_("出境日期"))
    public_funded = select_input(_("是否公派"), YES_NO, required=False)


class ReturnFromAbroadForm(KindForm):
    kind = ChangeKind.RETURN_FROM_ABROAD
    article = _("第二十条")
    intro = _("境外返回的学生由接收学校按学习经历编入相应年级，学籍号不变，并标注境外学习经历。")
    student_number = text_input(_("学籍号或身份证件号"), required=True, max_length=40, autocomplete="off")
    name = text_input(_("姓名"), required=True, max_length=60)
    abroad_from = date_input(
        _("境外学习开始日期"), required=False, help_text=_("已办理出境就读的，可留空（按出境日期）")
    )
    abroad_to = date_input(_("境外学习结束日期"))
    destination = select_input(_("就读国家或地区"), [CHOOSE, *DESTINATIONS], required=False)
    study_record = area_input(
        _("境外学习记录"), required=True, help_text=_("成绩单、在读证明等，据以确定年级")
    )
    grade = select_input(_("编入年级"), grade_choices())
    class_name = text_input(_("编入班级"), required=True, max_length=30)

    def setup(self, **kw: Any) -> None:
        if self.school is not None:
            grades = [(str(g), GRADE_LABELS[g]) for s in self.school.stages for g in grade_range(s)]
            self.fields["grade"].widget.choices = [CHOOSE, *grades]


class AbroadFacts(KindFacts):
    destination: Text = fact("前往国家或地区（GB/T 2659 三位字母代码，如 USA）")
    document_type: Code = fact(
        "出境证件类型：A 护照、hk_macau_permit、taiwan_permit", choices=tuple(DOCUMENT_TYPES)
    )
    document_number: Text = fact("证件号码")
    departure_date: Day = fact("出境日期")
    public_funded: Flag = fact("是否公派")


class ReturnFromAbroadFacts(KindFacts):
    student_number: Text = fact("学籍号（与姓名均须匹配；也可在请求体的 lookup 中给出）")
    name: Text = fact("姓名")
    abroad_from: Day = fact("境外学习开始日期（已办理出境就读的可省略）")
    abroad_to: Day = fact("境外学习结束日期")
    destination: Text = fact("就读国家或地区（三位字母代码）")
    study_record: Text = fact("境外学习记录（成绩单、在读证明等）")
    grade: Integer = fact("编入年级（1–12）")
    class_name: Text = fact("编入班级")


@register
class Abroad(KindSpec):
    """出境就读 (第20条): school handles it with valid documents, its department approves; record closed
    (13 公派出国 or 99 其他), archive to the upper department."""

    kind = ChangeKind.ABROAD
    menu_order = 40
    facts_schema = AbroadFacts
    form = AbroadForm
    from_statuses = frozenset({StudentStatus.ENROLLED, StudentStatus.SUSPENDED, StudentStatus.RESUMED})

    # 第20条: the record closes when the student leaves — an approval before the departure date applies on it.
    effective_fact = "departure_date"

    def fact_text(self, key: str, value: Any) -> str | None:
        return DOCUMENT_TYPES.get(str(value), str(value)) if key == "document_type" else None

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        return [("status", request.enrollment.status, request.facts["status"])]

    def prepare(self, ctx: Context) -> dict[str, Any]:
        assert ctx.enrollment is not None and ctx.school is not None
        destination = str(ctx.facts.get("destination") or "").strip().upper()
        if not destination:
            raise FieldError("destination", "required", "请选择前往的国家或地区")
        if destination not in Nationality.values or destination == Nationality.CHN:
            raise FieldError("destination", "invalid_code", f"前往国家或地区代码“{destination}”无效")
        doc_type = str(ctx.facts.get("document_type") or "A").strip()
        if doc_type not in DOCUMENT_TYPES:
            raise FieldError(
                "document_type", "invalid_code", "出境证件类型只能是护照、往来港澳通行证或往来台湾通行证"
            )
        number = normalise_number(str(ctx.facts.get("document_number") or ""))
        if not number:
            raise FieldError(
                "document_number",
                "required",
                f"请填写{DOCUMENT_TYPES[doc_type]}号码（第二十条：凭有效证件办理）",
            )
        if doc_type == "A":
            try:
                number = validate_identity("A", number, today=ctx.today).number
            except FieldError as exc:
                raise FieldError(
                    "document_number", exc.code, exc.message.replace("身份证件号", "证件号码")
                ) from None
        else:
            if destination not in _PERMIT_DESTINATIONS[doc_type]:
                raise FieldError(
                    "document_type",
                    "document_destination_mismatch",
                    f"{DOCUMENT_TYPES[doc_type]}不能用于前往{Nationality(destination).label}，请使用护照",
                )
            if not _PERMIT.fullmatch(number):
                raise FieldError("document_number", "id_format", "证件号码格式错误：应为5–17位字母或数字")
        departure = fact_date(ctx.facts, "departure_date", "出境日期")
        assert departure is not None
        public = _flag(ctx.facts.get("public_funded", ""))
        return {
            "destination": destination,
            "destination_name": str(Nationality(destination).label),
            "document_type": doc_type,
            "document_number_masked": mask_id_number(number),
            "departure_date": departure.isoformat(),
            "public_funded": public,
            "status": PUBLIC_ABROAD if public else OTHER,
            "archive_custodian_id": ctx.school.supervising_dept_id,
        }

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        status = request.facts["status"]
        set_status(request.enrollment, status, active=False)
        return {
            "status": status,
            "is_active": False,
            "destination": request.facts["destination"],
            "departure_date": request.facts["departure_date"],
            "archive_custodian_id": request.facts["archive_custodian_id"],
        }


def latest_abroad(person_id: Any) -> ChangeRequest | None:
    return (
        ChangeRequest.objects.filter(person_id=person_id, kind=ChangeKind.ABROAD, state=RequestState.APPROVED)
        .order_by("-closed_at")
        .first()
    )


@register
class ReturnFromAbroad(KindSpec):
    """境外返回 (第20条): the receiving school takes the student into the grade matching the study record;
    new record, same person and 学籍号, marked with the overseas study period."""

    kind = ChangeKind.RETURN_FROM_ABROAD
    entry = Entry.RECEIVING
    menu_order = 30
    start_label = N_("境外返回")
    facts_schema = ReturnFromAbroadFacts
    form = ReturnFromAbroadForm
    fact_labels: ClassVar[dict[str, str]] = {"grade": N_("编入年级"), "class_name": N_("编入班级")}
    initiator = Party.TARGET_SCHOOL
    needs_enrollment = False
    needs_target_school = True
    from_statuses = None

    def lookup(self, *, student_number: str, name: str) -> Enrollment:
        """The student's latest record (active or closed), found by 学籍号 AND 姓名 (第20条)."""
        person = person_by_number(student_number, name)
        latest = Enrollment.objects.filter(person_id=person.pk).order_by("-registered_at").first()
        if latest is None:  # a person is created with their first enrollment
            raise NotFound("未找到学籍号（或身份证件号）与姓名均匹配的学生")
        return latest

    def fact_text(self, key: str, value: Any) -> str | None:
        if key == "overseas_study" and isinstance(value, dict):
            dest = value.get("destination") or ""
            place = (Nationality(dest).label if dest in Nationality.values else dest) if dest else ""
            return f"{value.get('from', '')} 至 {value.get('to', '')} {place}".strip()
        return None

    def prepare(self, ctx: Context) -> dict[str, Any]:
        target = ctx.target_school
        assert target is not None
        person = person_by_number(
            str(ctx.facts.get("student_number") or ""), str(ctx.facts.get("name") or "")
        )
        active = (
            Enrollment.objects.filter(person_id=person.pk, is_active=True).select_related("school").first()
        )
        if active is not None:
            raise ApplicationError(
                "student_already_enrolled",
                f"该学生已在“{active.school.name}”有在读学籍，不能重复建立学籍（第九条）；如已来本校就读，请办理转学",
            )
        previous = Enrollment.objects.filter(person_id=person.pk).order_by("-registered_at").first()
        assert previous is not None  # a person is created with their first enrollment
        left = latest_abroad(person.pk)
        abroad_from = fact_date(ctx.facts, "abroad_from", "境外学习开始日期", required=left is None)
        if abroad_from is None:
            assert left is not None
            abroad_from = date.fromisoformat(left.facts["departure_date"])
        abroad_to = fact_date(ctx.facts, "abroad_to", "境外学习结束日期")
        assert abroad_to is not None
        if abroad_to < abroad_from:
            raise FieldError("abroad_to", "end_before_start", "境外学习结束日期不能早于开始日期")
        if abroad_to > ctx.today:
            raise FieldError("abroad_to", "in_future", "境外学习结束日期不能晚于今天")
        destination = str(ctx.facts.get("destination") or (left.facts["destination"] if left else "")).upper()
        if destination and (destination not in Nationality.values or destination == Nationality.CHN):
            raise FieldError("destination", "invalid_code", f"就读国家或地区代码“{destination}”无效")
        study_record = str(ctx.facts.get("study_record") or "").strip()
        if not study_record:
            raise FieldError(
                "study_record",
                "required",
                "请填写境外学习记录（成绩单、在读证明等），据以确定就读年级（第二十条）",
            )
        try:
            grade = int(ctx.facts.get("grade"))  # type: ignore[arg-type]
            stage = stage_for_grade(grade).value
        except (TypeError, ValueError):
            raise FieldError("grade", "invalid_grade", "年级须为 1–12 的整数") from None
        if target.state != SchoolState.ACTIVE:
            raise FieldError("target_school", "school_not_active", "接收学校已合并或撤销")
        if not target.teaches(stage):
            raise FieldError("grade", "stage_not_taught", f"接收学校没有{Stage(stage).label}学段")
        class_name = str(ctx.facts.get("class_name") or "").strip()
        if not class_name:
            raise FieldError("class_name", "required", "请填写编入班级")
        return {
            "person_id": str(person.pk),
            "student_number": person.student_number,
            "name": person.name,
            "previous_enrollment_id": str(previous.pk),
            "abroad_request_id": str(left.pk) if left else "",
            "overseas_study": {
                "from": abroad_from.isoformat(),
                "to": abroad_to.isoformat(),
                "destination": destination,
            },
            "study_record": study_record[:200],
            "grade": grade,
            "class_name": class_name[:30],
        }

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        facts, school = request.facts, request.target_school
        return [
            ("school", "", school.name if school is not None else ""),
            ("grade", "", facts["grade"]),
            ("class_name", "", facts["class_name"]),
        ]

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        Person.objects.select_for_update().get(pk=request.person_id)
        other = (
            Enrollment.objects.filter(person_id=request.person_id, is_active=True)
            .select_related("school")
            .first()
        )
        if other is not None:
            raise Conflict(
                "student_already_enrolled",
                f"该学生已在“{other.school.name}”有在读学籍，不能重复建立学籍（第九条）",
            )
        previous = Enrollment.objects.get(pk=request.facts["previous_enrollment_id"])
        request.before = {
            "previous_enrollment_id": str(previous.pk),
            "status": previous.status,
            "school_id": previous.school_id,
        }
        request.save(update_fields=["before"])
        new = move_to_school(
            previous,
            request.target_school,
            grade=request.facts["grade"],
            class_name=request.facts["class_name"],
            leaving_status=previous.status,
            actor=actor,
        )
        method = valid_entry_method(new.stage, new.entry_method)
        if method != new.entry_method:
            new.entry_method = method
            new.save(update_fields=["entry_method"])
        return {
            "enrollment_id": str(new.pk),
            "school_id": new.school_id,
            "grade": new.grade,
            "overseas_study": request.facts["overseas_study"],
            "student_number_unchanged": True,
        }


def overseas_periods(*, person_id: Any) -> list[dict[str, Any]]:
    """第20条 marks: every overseas study period of a person, oldest first — closed periods from approved
    returns, plus an open one (``to`` None) if the person left and has not come back."""
    rows = list(
        ChangeRequest.objects.filter(
            person_id=person_id,
            kind__in=[ChangeKind.ABROAD, ChangeKind.RETURN_FROM_ABROAD],
            state=RequestState.APPROVED,
        ).order_by("closed_at")
    )
    periods: list[dict[str, Any]] = []
    pending: ChangeRequest | None = None
    for req in rows:
        if req.kind == ChangeKind.ABROAD:
            pending = req
        else:
            periods.append({**req.facts["overseas_study"], "request_id": str(req.pk)})
            pending = None
    if pending is not None:
        periods.append(
            {
                "from": pending.facts["departure_date"],
                "to": None,
                "destination": pending.facts["destination"],
                "request_id": str(pending.pk),
            }
        )
    return periods


def overseas_marks(*, person_id: Any) -> list[str]:
    """The overseas periods as the record's header shows them (第20条): "2023-09-01 至 2025-06-30 美国", an open
    one as "2026-10-01 起 美国（尚未返回）"."""
    marks = []
    for p in overseas_periods(person_id=person_id):
        dest = p.get("destination") or ""
        place = str(Nationality(dest).label) if dest in Nationality.values else dest
        if p.get("to"):
            marks.append(f"{p['from']} 至 {p['to']} {place}".strip())
        else:
            marks.append(f"{p['from']} 起 {place}（尚未返回）".replace(" （", "（"))
    return marks
