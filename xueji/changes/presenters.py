"""How change requests are shown: the rows and sentences of the pages, the bodies of the API, and the masking
of identifiers on both (security.md §0: 学籍号 and identity or travel document numbers only masked).

Presenters read through :mod:`xueji.changes.queries` and never write. A fact is shown with its kind's label
(the kind's ``fact_labels`` over the shared vocabulary :data:`FACT_LABELS`) and its kind's display
(``KindSpec.fact_text``) before the shared one; keys labelled nowhere (internal ids, keys, full identity
numbers, the archive backup) are never shown on a page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.core.masking import mask_id_number, mask_student_number
from xueji.core.masking import mask_name as core_mask_name
from xueji.regions import divisions
from xueji.schools.grades import grade_label as school_grade_label
from xueji.students.enums import DisabilityType, EntryMethod, Gender, IdDocumentType, Stage, StudentStatus

from . import kinds
from .enums import ChangeKind
from .models import ApprovalStep, ChangeRequest
from .promotion import CATEGORIES, CATEGORY_LABELS
from .queries import (
    ReturnedItem,
    WorkItem,
    change_attachments,
    change_get,
    change_steps,
    is_notify_step,
    person_names,
    step_at,
    steps_total,
)
from .queries import school_names as _school_names
from .services import BatchItem, acts_for, is_initiator, starts_later
from .workflow import (
    IN_FLIGHT_STATES,
    MODE_ACTIONS,
    OPEN_STATES,
    Action,
    RequestState,
    StepMode,
    StepState,
    next_state,
)

# --------------------------------------------------------------------------------------------------------
# Names, numbers, schools
# --------------------------------------------------------------------------------------------------------


def mask_number(number: str) -> str:
    return mask_student_number(number) if number else ""


def mask_name(name: str) -> str:
    """张*明 / 李* — the admitting school sees who is coming without the full names of another school's pupils."""
    return core_mask_name(name)


def student_of(req: ChangeRequest) -> tuple[str, str]:
    """(name, masked number) of the request's student; a deferred child has no number (第11条)."""
    if req.person_id and req.person is not None:
        return req.person.name, mask_number(req.person.student_number)
    facts = req.facts or {}
    return str(facts.get("name", "")), str(facts.get("id_number_masked", ""))


def school_names(requests: list[ChangeRequest]) -> dict[Any, str]:
    """Enrollment id → school name for the requests' records, in one query."""
    return _school_names(requests)


def from_to(req: ChangeRequest, names: dict[Any, str]) -> tuple[str, str]:
    facts = req.facts or {}
    source = str(facts.get("from_school") or names.get(req.enrollment_id, "") or "")
    if not source and req.kind == ChangeKind.DEFERRAL:
        source = req.initiator_org.name
    target = str(facts.get("to_school") or (req.target_school.name if req.target_school else ""))
    return source, target


def grade_label(grade: Any) -> str:
    return school_grade_label(grade)


# --------------------------------------------------------------------------------------------------------
# Worklist rows and decisions
# --------------------------------------------------------------------------------------------------------


def days_text(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return _("超期 %(n)s 个工作日") % {"n": -days}
    if days == 0:
        return _("今天到期")
    return _("剩 %(n)s 个工作日") % {"n": days}


@dataclass
class Row:
    """One line of a worklist, ready for the template."""

    req: ChangeRequest
    step: ApprovalStep
    name: str
    number: str
    source: str
    target: str
    days_left: int | None = None
    overdue: bool = False
    escalated: bool = False
    actions: list[tuple[str, str]] = field(default_factory=list)
    done: str = ""  # after a decision: what happened
    error: str = ""
    comment: str = ""
    changes: list[ChangeLine] = field(default_factory=list)  # what the approval writes (before → after)
    starts_on: date | None = None  # the change's start date when still to come (its approval schedules it)
    last_step: bool = False  # the card's step is the chain's last (its approval completes the request)
    confirm: bool = False  # the approval's confirmation is open on the card
    returned: bool = False  # returned to the viewer's unit: resubmit or withdraw

    @property
    def dom_id(self) -> str:
        return f"wi-{self.req.pk}-{self.step.position}"

    @property
    def batch_value(self) -> str:
        """The value of the card's checkbox in a batch approval (``<request id>:<position>``)."""
        return f"{self.req.pk}:{self.step.position}"

    @property
    def can_approve(self) -> bool:
        return any(value == Action.APPROVE for value, _label in self.actions)

    @property
    def days_label(self) -> str:
        return days_text(self.days_left)


def step_actions(step: ApprovalStep) -> list[tuple[str, str]]:
    """The buttons of a step: a 备案 step is filed or returned, never refused (第18条)."""
    if step.mode == StepMode.NOTIFY:
        return [(Action.APPROVE, _("备案")), (Action.RETURN, _("退回补充材料"))]
    return [(Action.APPROVE, _("同意")), (Action.REJECT, _("不同意")), (Action.RETURN, _("退回补充材料"))]


def work_row(item: WorkItem, names: dict[Any, str]) -> Row:
    req = item.step.request
    name, number = student_of(req)
    source, target = from_to(req, names)
    return Row(
        req=req,
        step=item.step,
        name=name,
        number=number,
        source=source,
        target=target,
        days_left=item.days_left,
        overdue=item.overdue,
        escalated=item.escalated,
        actions=[] if item.escalated else step_actions(item.step),
        changes=change_lines(req),
        starts_on=starts_later(req, timezone.localdate()),
    )


def card_row(
    viewer: Actor, req: ChangeRequest, step: ApprovalStep, *, days_left: int | None, confirm: bool = False
) -> Row:
    """One work card as the viewer may act on it; ``confirm``: with the approval's confirmation open — what
    will change, before → after, and when."""
    step.request = req
    mine = (
        req.state == RequestState.PENDING
        and step.position == req.current_position
        and step.state == StepState.PENDING
        and acts_for(viewer, step.org_unit, step.party)
    )
    name, number = student_of(req)
    source, target = from_to(req, school_names([req]))
    return Row(
        req=req,
        step=step,
        name=name,
        number=number,
        source=source,
        target=target,
        days_left=days_left,
        overdue=days_left is not None and days_left < 0,
        actions=step_actions(step) if mine else [],
        changes=change_lines(req),
        starts_on=starts_later(req, timezone.localdate()),
        confirm=confirm and mine,
        last_step=step.position == steps_total(req.pk) - 1,
    )


def batch_preview(viewer: Actor, items: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The confirmation of a batch approval: each selected item with what its approval changes, and — said
    before anything is done — the items the viewer cannot decide (they will get their refusal, not a
    decision). An item the viewer may not see is shown as not found, exactly as the single path answers."""
    rows: list[dict[str, Any]] = []
    found = []
    for request_id, position in items:
        try:
            req = change_get(viewer=viewer, request_id=request_id)
        except NotFound:
            rows.append(
                {
                    "value": f"{request_id}:{position}",
                    "req": None,
                    "why": _("未找到该申请或不在您的管辖范围内"),
                }
            )
            continue
        step = step_at(req, position)
        if step is None:
            rows.append({"value": f"{request_id}:{position}", "req": None, "why": _("未找到该办理环节")})
            continue
        found.append(req)
        row = card_row(viewer, req, step, days_left=None)
        why = ""
        if not row.can_approve:
            why = (
                _("该环节已办理或不由您办理，不会办理")
                if req.state != RequestState.PENDING or step.position != req.current_position
                else _("当前环节由%(unit)s办理，您不能办理") % {"unit": step.org_unit.name}
            )
        rows.append({"value": row.batch_value, "req": req, "row": row, "why": why})
    return rows


def returned_row(item: ReturnedItem, names: dict[Any, str]) -> Row:
    """A request returned to the viewer's unit (its initiator): who returned it and why; resubmit or cancel."""
    req = item.request
    name, number = student_of(req)
    source, target = from_to(req, names)
    return Row(
        req=req,
        step=item.step,
        name=name,
        number=number,
        source=source,
        target=target,
        changes=change_lines(req),
        starts_on=starts_later(req, timezone.localdate()),
        returned=True,
    )


def row_after_decision(
    req: ChangeRequest, step: ApprovalStep, *, days_left: int | None, action: str, error: str, comment: str
) -> Row:
    """The worklist row that replaces the decided one: its new state, or the refusal with nothing changed."""
    step.request = req
    name, number = student_of(req)
    source, target = from_to(req, school_names([req]))
    row = Row(
        req=req,
        step=step,
        name=name,
        number=number,
        source=source,
        target=target,
        days_left=days_left,
        changes=change_lines(req) if req.state in IN_FLIGHT_STATES else [],
        starts_on=starts_later(req, timezone.localdate()),
    )
    row.overdue = row.days_left is not None and row.days_left < 0
    if error:
        still_mine = (
            req.state == RequestState.PENDING
            and step.position == req.current_position
            and step.state == StepState.PENDING
        )
        row.error, row.comment = error, comment
        row.actions = step_actions(step) if still_mine else []
        if not still_mine:
            row.done = _("该环节已办理：%(state)s") % {"state": step.get_state_display()}
    else:
        row.done = outcome(req, action)
    return row


def outcome(req: ChangeRequest, action: str) -> str:
    """What the viewer's decision did, in a sentence for the replaced row."""
    if req.state == RequestState.APPROVED:
        return _("已办结，学籍变动已生效")
    if req.state == RequestState.SCHEDULED and req.effective_on is not None:
        return _("已批准，将于 %(day)s 生效（到期由系统自动办理）") % {"day": req.effective_on.isoformat()}
    if req.state == RequestState.REJECTED:
        return _("已不同意，申请结束，学籍未作变动")
    if req.state == RequestState.RETURNED:
        return _("已退回发起单位补充材料")
    if req.state == RequestState.CANCELLED:
        return _("申请已撤销")
    nxt = step_at(req, req.current_position)
    filed = action == Action.APPROVE and is_notify_step(req, req.current_position - 1)
    verb = _("已备案") if filed else _("已同意")
    if nxt is None:
        return str(verb)
    return _("%(verb)s，已转%(unit)s办理") % {"verb": verb, "unit": nxt.org_unit.name}


def list_rows(requests: list[ChangeRequest]) -> list[dict[str, Any]]:
    """Rows of a request list: the student, both schools, and the current step of an open request."""
    names = school_names(requests)
    rows = []
    for req in requests:
        name, number = student_of(req)
        source, target = from_to(req, names)
        steps = list(req.steps.all())
        current = next((s for s in steps if s.position == req.current_position), None)
        rows.append(
            {
                "req": req,
                "name": name,
                "number": number,
                "source": source,
                "target": target,
                "current": current if req.state in OPEN_STATES else None,
                "starts_on": req.effective_on if req.state == RequestState.SCHEDULED else None,
            }
        )
    return rows


def timeline_entries(requests: list[ChangeRequest]) -> list[dict[str, Any]]:
    """The "学籍变动" tab of a student's page: each request with its steps and both schools."""
    names = school_names(requests)
    entries = []
    for req in requests:
        source, target = from_to(req, names)
        entries.append(
            {
                "req": req,
                "steps": list(req.steps.all()),
                "source": source,
                "target": target,
                "effective_on": req.effective_on if req.state in _EFFECTIVE_SHOWN else None,
            }
        )
    return entries


# The states in which a request's date of effect is shown (to come, or reached).
_EFFECTIVE_SHOWN = frozenset({RequestState.SCHEDULED, RequestState.APPROVED})


def with_students(notifications: list[Any]) -> list[Any]:
    """Name the student on each notice: the stored message names only the kind and the step."""
    people = person_names(
        {n.request.person_id for n in notifications if n.request is not None and n.request.person_id}
    )
    for n in notifications:
        req = n.request
        name = ""
        if req is not None:
            name = people.get(req.person_id, "") if req.person_id else str((req.facts or {}).get("name", ""))
        n.student = name
    return notifications


def policy_label(version: str) -> str:
    """The rule set a request was decided under, as people name it (issue 8 item 12: no internal codes on
    screen): ``national-2025`` → 国家规则（2025 年办法）, ``440000-v3`` → 广东省学籍变动规则第 3 版."""
    if version.startswith("national-"):
        return _("国家规则（%(year)s 年办法）") % {"year": version.removeprefix("national-")}
    code, _sep, number = version.partition("-v")
    division = divisions.get_division(code)
    if division is None or not number.isdigit():
        return version
    return _("%(province)s学籍变动规则第 %(n)s 版") % {"province": division.name, "n": number}


def request_page(user: Actor, req: ChangeRequest) -> dict[str, Any]:
    """What a request's page shows, and which of its actions the viewer may take."""
    steps = change_steps(req)
    current = next((s for s in steps if s.position == req.current_position), None)
    can_decide = bool(
        req.state == RequestState.PENDING and current and acts_for(user, current.org_unit, current.party)
    )
    initiator = is_initiator(user, req)
    name, number = student_of(req)
    source, target = from_to(req, school_names([req]))
    # Before → after while nothing is written yet (pending, returned, scheduled): the record as it is now.
    changes = change_lines(req) if req.state in IN_FLIGHT_STATES else []
    return {
        "req": req,
        "changes": changes,
        "starts_on": starts_later(req, timezone.localdate()),
        "effective_on": req.effective_on if req.state in _EFFECTIVE_SHOWN else None,
        "policy_label": policy_label(req.policy_version) if req.policy_version else "",
        "steps": steps,
        "current": current if req.is_open else None,
        "name": name,
        "number": number,
        "source": source,
        "target": target,
        "facts": fact_rows(req),
        "attachments": change_attachments(req),
        "can_decide": can_decide,
        "decide_actions": step_actions(current) if can_decide and current else [],
        "can_resubmit": initiator and req.state == RequestState.RETURNED,
        "can_cancel": initiator and req.state in IN_FLIGHT_STATES,
    }


# --------------------------------------------------------------------------------------------------------
# Facts on a page
# --------------------------------------------------------------------------------------------------------

# The shared vocabulary of fact labels, in display order; a kind's ``fact_labels`` override or add to it.
FACT_LABELS: dict[str, str] = {
    "name": N_("姓名"),
    "student_number": N_("学籍号"),
    "from_school": N_("转出/毕业学校"),
    "to_school": N_("转入/升入学校"),
    "stage": N_("学段"),
    "grade": N_("年级"),
    "class_name": N_("班级"),
    "reason": N_("原因"),
    "reason_text": N_("原因说明"),
    "applicant_name": N_("申请的监护人"),
    "start_date": N_("开始日期"),
    "end_date": N_("结束日期"),
    "resume_date": N_("复学日期"),
    "date_of_death": N_("死亡日期"),
    "filing_due": N_("报送期限（60个工作日）"),
    "filed_late": N_("逾期报送"),
    "certificate_number": N_("证书编号"),
    "closed_on": N_("办结日期"),
    "destination_name": N_("前往国家或地区"),
    "document_type": N_("出境证件"),
    "document_number_masked": N_("证件号码"),
    "departure_date": N_("出境日期"),
    "public_funded": N_("公派"),
    "overseas_study": N_("境外学习经历"),
    "study_record": N_("境外学习记录"),
    "gender": N_("性别"),
    "birth_date": N_("出生日期"),
    "id_type": N_("身份证件类型"),
    "id_number_masked": N_("身份证件号"),
    "household_code": N_("户口所在地"),
    "school_year": N_("缓学学年"),
    "evidence": N_("证明材料"),
    "renewal_of": N_("续办"),
    "reform_school_name": N_("专门学校"),
    "decision_ref": N_("依据文号"),
    "placed_on": N_("进入日期（生效）"),
    "return_date": N_("返回原校日期"),
    "service_name": N_("安置方式"),
    "disability_type": N_("残疾类别"),
    "disability_level": N_("残疾等级"),
    "evidence_type": N_("证明材料类型"),
    "evidence_ref": N_("证明材料"),
    "decision_name": N_("评估结论"),
    "committee": N_("专家委员会"),
    "assessed_on": N_("评估日期"),
    "changed_labels": N_("变更项目"),
    "student_number_follows": N_("学籍号随身份证件号变更"),
    "graduated": N_("已毕业"),
    "entry_ym": N_("入学年月"),
    "entry_method": N_("入学方式"),
    "admission_ref": N_("录取依据"),
}


def _code_label(choices: Any) -> Callable[[Any], str]:
    def label(value: Any) -> str:
        try:
            return str(choices(str(value)).label)
        except ValueError:
            return str(value)

    return label


def _grade_text(value: Any) -> str:
    return school_grade_label(value)


def _month_text(value: Any) -> str:
    text = str(value)
    return f"{text[:4]}-{text[4:]}" if len(text) == 6 else text


def _division_text(value: Any) -> str:
    try:
        return f"{value} {divisions.full_name(str(value))}"
    except KeyError:
        return str(value)


# The shared display of a fact by its key (national code tables and masking).
_SHARED_TEXT: dict[str, Callable[[Any], str]] = {
    "student_number": lambda v: mask_number(str(v)),
    "grade": _grade_text,
    "stage": _code_label(Stage),
    "gender": _code_label(Gender),
    "id_type": _code_label(IdDocumentType),
    "disability_type": _code_label(DisabilityType),
    "disability_level": lambda v: _("%(n)s级") % {"n": v},
    "entry_method": _code_label(EntryMethod),
    "entry_ym": _month_text,
    "household_code": _division_text,
    "status": _code_label(StudentStatus),
}


def fact_text(spec: kinds.KindSpec, key: str, value: Any) -> str:
    """One fact's value as a page shows it: yes/no, the kind's own display, else the shared one."""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if value in (None, ""):
        return ""
    own = spec.fact_text(key, value)
    if own is not None:
        return own
    shared = _SHARED_TEXT.get(key)
    return shared(value) if shared is not None else str(value)


# Labels of what an approval changes (``KindSpec.what_changes``): the facts' vocabulary and the record's values.
CHANGE_LABELS: dict[str, str] = {
    **FACT_LABELS,
    "status": N_("学籍状态"),
    "school": N_("学籍所在学校"),
    "id_number": N_("身份证件号"),  # the kinds give it masked
    "reform_school_name": N_("就读专门学校"),
    "service_name": N_("安置方式"),
}


@dataclass(frozen=True)
class ChangeLine:
    """One value the approval changes: ``label`` before → after (as a page shows them)."""

    label: str
    before: str
    after: str


def change_lines(req: ChangeRequest) -> list[ChangeLine]:
    """What the request's last approval writes to the record, before (the record now) → after, reusing the
    facts' labels and display; values that stay the same are left out. Empty for a kind that shows only its
    facts (e.g. 缓学: the child has no record)."""
    spec = kinds.get(req.kind)
    lines = []
    for key, before, after in spec.what_changes(req):
        old, new = fact_text(spec, key, before), fact_text(spec, key, after)
        if old == new:
            continue
        label = CHANGE_LABELS.get(key, key)
        lines.append(ChangeLine(_(label), old or "—", new or "—"))
    return lines


def batch_rows(results: list[BatchItem]) -> list[dict[str, Any]]:
    """The per-item result list of a batch approval: the student and kind of each item the viewer may see,
    what its approval did or why it was refused (an item not visible is named by nothing but its refusal)."""
    visible = [r.request for r in results if r.request is not None]
    names = school_names(visible)
    rows = []
    for r in results:
        req = r.request
        name, number = student_of(req) if req is not None else ("", "")
        source, target = from_to(req, names) if req is not None else ("", "")
        rows.append(
            {
                "item": r,
                "req": req,
                "name": name,
                "number": number,
                "source": source,
                "target": target,
                "kind_label": req.get_kind_display() if req is not None else "",
                "text": outcome(req, Action.APPROVE) if r.ok and req is not None else r.message,
            }
        )
    return rows


def fact_rows(req: ChangeRequest) -> list[tuple[str, str]]:
    """(label, value) of every labelled fact of the request, in the vocabulary's order."""
    facts = req.facts or {}
    spec = kinds.get(req.kind)
    labels = {**FACT_LABELS, **spec.fact_labels}
    rows = []
    for key, label in labels.items():
        if key in spec.hidden_facts or key not in facts:
            continue
        text = fact_text(spec, key, facts[key])
        if text:
            rows.append((_(label), text))
    rows += spec.extra_fact_rows(facts, lambda key, value: fact_text(spec, key, value))
    return rows


# --------------------------------------------------------------------------------------------------------
# Cohorts and the annual promotion (pages)
# --------------------------------------------------------------------------------------------------------


def skipped_rows(result: Any, *, masked: bool = False) -> list[dict[str, str]]:
    rows = [{"name": s.name, "message": s.message, "code": s.code} for s in result.skipped]
    return [{**r, "name": mask_name(r["name"])} for r in rows] if masked else rows


def graduation_preview(enrollments: list[Any], busy: set[Any]) -> list[dict[str, Any]]:
    return [
        {"e": e, "number": mask_number(e.person.student_number), "busy": e.person_id in busy}
        for e in enrollments
    ]


def progression_preview(candidates: list[Any]) -> list[dict[str, Any]]:
    """Another school's pupils: names masked (第14条 — the admitting school sees who is coming)."""
    return [
        {
            "name": mask_name(e.person.name),
            "number": mask_number(e.person.student_number),
            "class_name": e.class_name,
            "graduated": e.status == StudentStatus.GRADUATED,
        }
        for e in candidates
    ]


def found_summary(found: Any) -> dict[str, Any]:
    """What a receiving school sees of a record found by 学籍号 + 姓名 before submitting (第14、15条)."""
    return {
        "school": found.school.name,
        "grade": grade_label(found.grade),
        "stage": Stage(found.stage).label,
        "graduated": found.status == StudentStatus.GRADUATED,
    }


def promotion_page(report: Any) -> dict[str, Any]:
    return {
        "count_cards": [(c, CATEGORY_LABELS[c], report.counts.get(c, 0)) for c in CATEGORIES],
        "rows": [
            {
                **row,
                "grade_label": grade_label(row["grade"]),
                "other": row.get("grade_settled", 0) + row.get("other_status", 0),
            }
            for row in report.by_school_grade
        ],
        "in_flight": [
            {
                **s,
                "number": mask_number(s["student_number"]),
                "kind_label": ChangeKind(s["kind"]).label if s["kind"] else "",
                "grade_label": grade_label(s["grade"]),
            }
            for s in report.in_flight
        ],
    }


# --------------------------------------------------------------------------------------------------------
# API bodies
# --------------------------------------------------------------------------------------------------------

# Fact keys holding direct identifiers (security.md §0): shown masked; ``child_key`` is a hash of an identity
# number (a small search space) and is not shown at all.
_MASKED_FACTS = frozenset({"id_number", "student_number", "document_number"})
_HIDDEN_FACTS = frozenset({"child_key"})
_ACTION_ORDER = (Action.APPROVE, Action.REJECT, Action.RETURN)


def mask_facts(value: Any) -> Any:
    """Facts and snapshots with direct identifiers masked, at any depth."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _HIDDEN_FACTS:
                continue
            if k in _MASKED_FACTS and isinstance(v, str):
                out[f"{k}_masked"] = mask_id_number(v) if v else ""
            else:
                out[k] = mask_facts(v)
        return out
    if isinstance(value, list):
        return [mask_facts(v) for v in value]
    return value


def api_student(req: ChangeRequest) -> tuple[str, str]:
    """(name, masked 学籍号). A deferred child has no record (第11条): the name in the facts, no number."""
    person = req.person if req.person_id else None
    if person is not None:
        return person.name, mask_id_number(person.student_number) if person.student_number else ""
    return str(req.facts.get("name", "")), ""


def summary_out(req: ChangeRequest) -> dict[str, Any]:
    name, number = api_student(req)
    enrollment = req.enrollment if req.enrollment_id else None
    school = enrollment.school if enrollment is not None else None
    return {
        "id": req.pk,
        "kind": req.kind,
        "kind_label": str(req.get_kind_display()),
        "state": req.state,
        "state_label": str(req.get_state_display()),
        "scope": req.scope,
        "person_id": req.person_id,
        "student_name": name,
        "student_number_masked": number,
        "school_id": school.pk if school else None,
        "school_name": school.name if school else "",
        "target_school_id": req.target_school_id,
        "target_school_name": req.target_school.name if req.target_school is not None else "",
        "initiator_org_id": req.initiator_org_id,
        "initiator_org_name": req.initiator_org.name,
        "current_position": req.current_position,
        "effective_on": req.effective_on,
        "created_at": req.created_at,
        "updated_at": req.updated_at,
        "closed_at": req.closed_at,
    }


def step_out(s: ApprovalStep) -> dict[str, Any]:
    return {
        "position": s.position,
        "party": s.party,
        "party_label": str(s.get_party_display()),
        "org_unit_id": s.org_unit_id,
        "org_name": s.org_unit.name,
        "mode": s.mode,
        "mode_label": str(s.get_mode_display()),
        "state": s.state,
        "state_label": str(s.get_state_display()),
        "started_on": s.started_on,
        "due_on": s.due_on,
        "due_provisional": s.due_provisional,
        "decided_by": s.decided_by.get_username() if s.decided_by is not None else "",
        "decided_at": s.decided_at,
        "comment": s.comment,
    }


def timeline_item_out(req: ChangeRequest) -> dict[str, Any]:
    """A request of a student's timeline with its (prefetched) steps in order."""
    return {
        **summary_out(req),
        "steps": [step_out(s) for s in sorted(req.steps.all(), key=lambda s: s.position)],
    }


def attachment_out(a: Any) -> dict[str, Any]:
    return {
        "id": a.pk,
        "step_position": a.step_position,
        "title": a.title,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_at": a.uploaded_at,
    }


def api_step_actions(viewer: Actor, step: ApprovalStep) -> list[str]:
    if not acts_for(viewer, step.org_unit, step.party):
        return []
    allowed = MODE_ACTIONS.get(step.mode, frozenset())
    return [str(a) for a in _ACTION_ORDER if a in allowed]


def api_actions(viewer: Actor, req: ChangeRequest, steps: list[ApprovalStep]) -> list[str]:
    out: list[str] = []
    if req.state == RequestState.PENDING:
        current = next((s for s in steps if s.position == req.current_position), None)
        if current is not None and current.state == StepState.PENDING:
            out += api_step_actions(viewer, current)
    if req.state in IN_FLIGHT_STATES and is_initiator(viewer, req):
        if req.state == RequestState.RETURNED:
            out.append(str(Action.RESUBMIT))
        out.append(str(Action.CANCEL))
    return out


def detail_out(viewer: Actor, req: ChangeRequest) -> dict[str, Any]:
    steps = change_steps(req)
    return {
        **summary_out(req),
        "reason": req.reason,
        "note": req.note,
        "policy_version": req.policy_version,
        "facts": mask_facts(req.facts or {}),
        "before": mask_facts(req.before or {}),
        "steps": [step_out(s) for s in steps],
        "attachments": [attachment_out(a) for a in change_attachments(req)],
        "actions": api_actions(viewer, req, steps),
    }


def receipt_out(req: ChangeRequest) -> dict[str, Any]:
    """Only what never changes after the submission (a replay returns the same bytes)."""
    return {
        "id": req.pk,
        "kind": req.kind,
        "kind_label": str(req.get_kind_display()),
        "person_id": req.person_id,
        "target_school_id": req.target_school_id,
        "steps_total": steps_total(req.pk),
        "created_at": req.created_at,
    }


def decision_receipt_out(req_id: Any, step: ApprovalStep, action: str) -> dict[str, Any]:
    """Built from the decided step only, so that a replay returns the same bytes; the request state this
    decision produced is the workflow table's (a decision is taken on a pending request)."""
    last = step.position == steps_total(req_id) - 1
    after = next_state(RequestState.PENDING, action, last_step=last)
    return {
        "request_id": req_id,
        "position": step.position,
        "action": action,
        "step_state": step.state,
        "step_state_label": str(step.get_state_display()),
        "request_state_after": str(after),
        "decided_at": step.decided_at,
        "comment": step.comment,
    }


def work_item_out(viewer: Actor, item: WorkItem) -> dict[str, Any]:
    step, req = item.step, item.step.request
    name, number = api_student(req)
    return {
        "request_id": req.pk,
        "kind": req.kind,
        "kind_label": str(req.get_kind_display()),
        "person_id": req.person_id,
        "student_name": name,
        "student_number_masked": number,
        "position": step.position,
        "party": step.party,
        "party_label": str(step.get_party_display()),
        "mode": step.mode,
        "org_unit_id": step.org_unit_id,
        "org_name": step.org_unit.name,
        "started_on": step.started_on,
        "due_on": step.due_on,
        "provisional": step.due_provisional,
        "days_left": item.days_left,
        "overdue": item.overdue,
        "escalated": item.escalated,
        "actions": [] if item.escalated else api_step_actions(viewer, step),
    }


def notification_out(n: Any, read: set[int]) -> dict[str, Any]:
    return {
        "id": n.pk,
        "request_id": n.request_id,
        "org_unit_id": n.org_unit_id,
        "message": n.text,
        "created_at": n.created_at,
        "read": n.pk in read,
        "needs_action": n.needs_action,
        "done": n.done_at is not None,
        "done_at": n.done_at,
    }


def batch_item_out(r: BatchItem) -> dict[str, Any]:
    """One item of a batch approval (API): the request's state after it when it was decided."""
    req = r.request
    return {
        "request_id": r.request_id,
        "position": r.position,
        "ok": r.ok,
        "code": r.code,
        "message": r.message,
        "request_state_after": req.state if r.ok and req is not None else "",
        "effective_on": req.effective_on if r.ok and req is not None else None,
    }


def returned_item_out(item: ReturnedItem) -> dict[str, Any]:
    """A request returned to the caller's unit (API worklist): who returned it and why."""
    step = item.step
    return {
        **summary_out(item.request),
        "returned_by": step.org_unit.name,
        "returned_at": step.decided_at,
        "comment": step.comment,
    }


def cohort_out(result: Any, *, reveal_names: bool) -> dict[str, Any]:
    def name(n: str) -> str:
        return n if reveal_names else (n[:1] + "*" * (len(n) - 1))

    return {
        "submitted": [r.pk for r in result.submitted],
        "submitted_count": len(result.submitted),
        "skipped": [
            {"enrollment_id": s.enrollment_id, "name": name(s.name), "code": s.code, "message": s.message}
            for s in result.skipped
        ],
    }


def promotion_out(report: Any) -> dict[str, Any]:
    out = dict(report.as_dict())
    out["in_flight"] = [mask_facts(row) for row in out["in_flight"]]
    return out
