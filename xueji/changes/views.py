"""Change-request pages (学籍变动): the worklist, the requests, one request, starting a change, cohorts and the
annual promotion.

- Reads go through :mod:`xueji.changes.queries` (scoped to the viewer); writes through the engine
  (:mod:`xueji.changes.services`), the cohort services and :mod:`xueji.changes.attachments`. A request outside
  the viewer's jurisdiction is a 404 on every page (第5、23条); the admin roles have no change pages.
- The worklist decides in place: an htmx POST of approve / reject / return replaces the row with its new
  state; reject and return need a comment (the engine refuses without one and nothing changes).
- 学籍号 and identity numbers are masked on every page (security.md §0).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_POST

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, require_student_roles, school_registrar_units
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.masking import mask_id_number, mask_student_number
from xueji.core.web import paginate, ui_errors
from xueji.regions import divisions
from xueji.regions.enums import LEVEL_RANK, OrgLevel
from xueji.schools.enums import SchoolState, SchoolType
from xueji.schools.models import School
from xueji.schools.queries import school_get
from xueji.students.enums import (
    DisabilityType,
    EntryMethod,
    Gender,
    IdDocumentType,
    Stage,
    StudentStatus,
    is_compulsory,
)
from xueji.students.forms import GRADE_LABELS
from xueji.students.models import Enrollment, Person
from xueji.students.queries import student_get
from xueji.workdays.services import official_calendar

from . import kinds, parties
from .attachments import attachment_add, attachment_open, can_attach
from .enums import ChangeKind, Party
from .forms import (
    KIND_FORMS,
    AttachmentForm,
    CancelForm,
    GraduationCohortForm,
    KindForm,
    LookupForm,
    ProgressionCohortForm,
    PromotionForm,
    RequestFilterForm,
    ResubmitForm,
)
from .kinds.abroad import DOCUMENT_TYPES
from .kinds.graduation import NEXT_STAGE, graduate_cohort, graduating_grade
from .kinds.progression import cohort_preview, progress_cohort
from .kinds.reform import current_placement
from .kinds.special import EVIDENCE_TYPES
from .kinds.suspension import REASONS
from .kinds.withdrawal import COMPULSORY_REFUSED
from .lookups import national_lookup
from .models import ApprovalStep, ChangeRequest
from .queries import (
    WorkItem,
    my_requests,
    notification_mark_read,
    notifications_for,
    request_get,
    requests_visible,
    worklist,
)
from .services import ONE_OPEN, acts_for, change_cancel, change_decide, change_resubmit, change_submit
from .workflow import OPEN_STATES, Action, RequestState, StepMode, StepState

DECISIONS = (Action.APPROVE, Action.REJECT, Action.RETURN)
# Kinds started from a student's record by its school (the "办理学籍变动" menu), in menu order.
RECORD_KINDS = (
    ChangeKind.SUSPENSION,
    ChangeKind.RESUMPTION,
    ChangeKind.WITHDRAWAL,
    ChangeKind.ABROAD,
    ChangeKind.REFORM_PLACEMENT,
    ChangeKind.REFORM_RETURN,
    ChangeKind.SPECIAL_EDUCATION,
    ChangeKind.SPECIAL_EDUCATION_DECISION,
    ChangeKind.KEY_DATA_CHANGE,
    ChangeKind.GRADUATION,
    ChangeKind.COMPLETION,
    ChangeKind.INCOMPLETE,
    ChangeKind.DEATH,
)
# Kinds the receiving school starts by naming the student (学籍号 + 姓名).
LOOKUP_KINDS = (ChangeKind.TRANSFER, ChangeKind.PROGRESSION)
TARGET_KINDS = (ChangeKind.TRANSFER, ChangeKind.PROGRESSION, ChangeKind.RETURN_FROM_ABROAD)
NOTIFICATION_LIMIT = 20


def _require_roles(user: Any) -> None:
    require_student_roles(user)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _initiator_party(req: ChangeRequest) -> str:
    return Party.SCHOOL if req.initiator_org.level == OrgLevel.SCHOOL else Party.SCHOOL_COUNTY


def is_initiator(user: Any, req: ChangeRequest) -> bool:
    return acts_for(user, req.initiator_org, _initiator_party(req))


# --------------------------------------------------------------------------------------------------------
# Display helpers
# --------------------------------------------------------------------------------------------------------


def _mask_number(number: str) -> str:
    return mask_student_number(number) if number else ""


def student_of(req: ChangeRequest) -> tuple[str, str]:
    """(name, masked number) of the request's student; a deferred child has no number (第11条)."""
    if req.person_id and req.person is not None:
        return req.person.name, _mask_number(req.person.student_number)
    facts = req.facts or {}
    return str(facts.get("name", "")), str(facts.get("id_number_masked", ""))


def school_names(requests: list[ChangeRequest]) -> dict[Any, str]:
    """Enrollment id → school name for the requests' records, in one query."""
    ids = {r.enrollment_id for r in requests if r.enrollment_id}
    if not ids:
        return {}
    return dict(Enrollment.objects.filter(pk__in=ids).values_list("pk", "school__name"))


def from_to(req: ChangeRequest, names: dict[Any, str]) -> tuple[str, str]:
    facts = req.facts or {}
    source = str(facts.get("from_school") or names.get(req.enrollment_id, "") or "")
    if not source and req.kind == ChangeKind.DEFERRAL:
        source = req.initiator_org.name
    target = str(facts.get("to_school") or (req.target_school.name if req.target_school else ""))
    return source, target


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

    @property
    def dom_id(self) -> str:
        return f"wi-{self.req.pk}-{self.step.position}"

    @property
    def days_label(self) -> str:
        return days_text(self.days_left)


def _actions(step: ApprovalStep) -> list[tuple[str, str]]:
    if step.mode == StepMode.NOTIFY:
        return [(Action.APPROVE, _("备案")), (Action.RETURN, _("退回补充材料"))]
    return [(Action.APPROVE, _("同意")), (Action.REJECT, _("不同意")), (Action.RETURN, _("退回补充材料"))]


def _row(item: WorkItem, names: dict[Any, str]) -> Row:
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
        actions=[] if item.escalated else _actions(item.step),
    )


def _days_left(step: ApprovalStep, today: date) -> int | None:
    if step.due_on is None:
        return None
    cal = official_calendar()
    if step.due_on >= today:
        return cal.working_days_between(today, step.due_on)
    return -cal.working_days_between(step.due_on, today)


def _outcome(req: ChangeRequest, action: str) -> str:
    """What the viewer's decision did, in a sentence for the replaced row."""
    if req.state == RequestState.APPROVED:
        return _("已办结，学籍变动已生效")
    if req.state == RequestState.REJECTED:
        return _("已不同意，申请结束，学籍未作变动")
    if req.state == RequestState.RETURNED:
        return _("已退回发起单位补充材料")
    if req.state == RequestState.CANCELLED:
        return _("申请已撤销")
    nxt = (
        ApprovalStep.objects.filter(request=req, position=req.current_position)
        .select_related("org_unit")
        .first()
    )
    verb = (
        _("已备案") if action == Action.APPROVE and _is_notify(req, req.current_position - 1) else _("已同意")
    )
    if nxt is None:
        return str(verb)
    return _("%(verb)s，已转%(unit)s办理") % {"verb": verb, "unit": nxt.org_unit.name}


def _is_notify(req: ChangeRequest, position: int) -> bool:
    return ApprovalStep.objects.filter(request=req, position=position, mode=StepMode.NOTIFY).exists()


# Facts shown on a request, in Chinese. Keys not listed here (internal ids, keys, full identity numbers,
# the archive backup) are never shown.
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
KIND_FACT_LABELS: dict[str, dict[str, str]] = {
    ChangeKind.TRANSFER: {
        "from_school": N_("转出学校"),
        "to_school": N_("转入学校"),
        "class_name": N_("转入班级"),
        "reason_text": N_("转学原因"),
    },
    ChangeKind.SUSPENSION: {
        "reason": N_("休学原因"),
        "start_date": N_("休学开始日期"),
        "end_date": N_("休学结束日期"),
    },
    ChangeKind.RESUMPTION: {"grade": N_("复学年级")},
    ChangeKind.DEFERRAL: {
        "name": N_("儿童姓名"),
        "start_date": N_("缓学开始"),
        "end_date": N_("缓学结束"),
        "reason_text": N_("缓学原因"),
    },
    ChangeKind.REFORM_PLACEMENT: {"start_date": N_("进入专门学校日期")},
    ChangeKind.REFORM_RETURN: {"grade": N_("返回后年级")},
    ChangeKind.SPECIAL_EDUCATION_DECISION: {"grade": N_("决定后年级"), "stage": N_("决定后学段")},
    ChangeKind.PROGRESSION: {
        "from_school": N_("毕业学校"),
        "to_school": N_("升入学校"),
        "stage": N_("升入学段"),
        "grade": N_("升入年级"),
        "class_name": N_("升入班级"),
    },
    ChangeKind.RETURN_FROM_ABROAD: {"grade": N_("编入年级"), "class_name": N_("编入班级")},
}
HIDDEN_FACTS: dict[str, frozenset[str]] = {
    # The key-data change keeps the full new values for the engine; pages show the masked ``new`` only.
    ChangeKind.KEY_DATA_CHANGE: frozenset({"name", "gender", "birth_date", "id_type"}),
}
KEY_DATA_LABELS = {
    "name": N_("姓名"),
    "gender": N_("性别"),
    "birth_date": N_("出生日期"),
    "id_type": N_("身份证件类型"),
    "id_number": N_("身份证件号"),
}


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(str(value)).label)
    except ValueError:
        return str(value)


def _fact_value(kind: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if value in (None, ""):
        return ""
    if key == "student_number":
        return _mask_number(str(value))
    if key == "grade":
        return str(GRADE_LABELS.get(int(value), value)) if str(value).isdigit() else str(value)
    if key == "stage":
        return _label(Stage, value)
    if key == "reason" and kind == ChangeKind.SUSPENSION:
        return REASONS.get(str(value), str(value))
    if key == "gender":
        return _label(Gender, value)
    if key == "id_type":
        return _label(IdDocumentType, value)
    if key == "document_type":
        return DOCUMENT_TYPES.get(str(value), str(value))
    if key == "disability_type":
        return _label(DisabilityType, value)
    if key == "disability_level":
        return _("%(n)s级") % {"n": value}
    if key == "evidence_type":
        return EVIDENCE_TYPES.get(str(value), str(value))
    if key == "evidence_ref" and kind == ChangeKind.SPECIAL_EDUCATION and len(str(value)) == 20:
        return mask_id_number(str(value))  # a 残疾人证 number carries the holder's ID number
    if key == "entry_method":
        return _label(EntryMethod, value)
    if key == "entry_ym" and len(str(value)) == 6:
        return f"{str(value)[:4]}-{str(value)[4:]}"
    if key == "household_code":
        try:
            return f"{value} {divisions.full_name(str(value))}"
        except KeyError:
            return str(value)
    if key == "overseas_study" and isinstance(value, dict):
        dest = value.get("destination") or ""
        place = _label(_nationality(), dest) if dest else ""
        return f"{value.get('from', '')} 至 {value.get('to', '')} {place}".strip()
    if key == "changed_labels" and isinstance(value, list):
        return "、".join(str(v) for v in value)
    if key == "renewal_of":
        return _("是（上一学年已批准缓学）")
    return str(value)


def _nationality() -> Any:
    from xueji.students.enums import Nationality

    return Nationality


def fact_rows(req: ChangeRequest) -> list[tuple[str, str]]:
    facts = req.facts or {}
    labels = {**FACT_LABELS, **KIND_FACT_LABELS.get(req.kind, {})}
    hidden = HIDDEN_FACTS.get(req.kind, frozenset())
    rows = []
    for key, label in labels.items():
        if key in hidden or key not in facts:
            continue
        text = _fact_value(req.kind, key, facts[key])
        if text:
            rows.append((_(label), text))
    if req.kind == ChangeKind.KEY_DATA_CHANGE:
        for key, value in (facts.get("new") or {}).items():
            shown = _fact_value(req.kind, key, value) if key != "id_number" else str(value)
            rows.append((_("变更后%(label)s") % {"label": _(KEY_DATA_LABELS.get(key, key))}, shown))
    return rows


# --------------------------------------------------------------------------------------------------------
# Who may start what
# --------------------------------------------------------------------------------------------------------


def registrar_schools(user: Any) -> list[School]:
    """Active schools where the user is the filed school registrar (they receive transfers there)."""
    schools = []
    for unit in school_registrar_units(user):
        try:
            school = school_get(viewer=user, school_id=unit.pk)
        except NotFound:
            continue
        if school.state == SchoolState.ACTIVE:
            schools.append(school)
    return schools


def county_units(user: Any) -> list[Any]:
    """County departments where the user acts (缓学 is decided by the county of household registration)."""
    return [
        g.org_unit
        for g in data_grants(user)
        if g.role in {Role.DEPT_REGISTRAR, Role.APPROVER} and g.org_unit.level == OrgLevel.COUNTY
    ]


def promotion_units(user: Any) -> list[Any]:
    """Regions whose annual promotion the user may run: department registrar at county level or above."""
    out = []
    for g in data_grants(user):
        level = g.org_unit.level
        if (
            g.role == Role.DEPT_REGISTRAR
            and level != OrgLevel.SCHOOL
            and LEVEL_RANK[OrgLevel(level)] <= LEVEL_RANK[OrgLevel.COUNTY]
        ):
            out.append(g.org_unit)
    return out


def start_links(user: Any) -> list[dict[str, str]]:
    links = []
    if registrar_schools(user):
        links += [
            {"url": reverse("changes:new", args=[ChangeKind.TRANSFER]), "label": _("转学（转入）")},
            {"url": reverse("changes:new", args=[ChangeKind.PROGRESSION]), "label": _("升学接收")},
            {"url": reverse("changes:new", args=[ChangeKind.RETURN_FROM_ABROAD]), "label": _("境外返回")},
            {"url": reverse("changes:cohort_progression"), "label": _("整体升学")},
            {"url": reverse("changes:cohort_graduation"), "label": _("年级毕业")},
        ]
    if county_units(user):
        links.append({"url": reverse("changes:new", args=[ChangeKind.DEFERRAL]), "label": _("缓学")})
    if promotion_units(user):
        links.append({"url": reverse("changes:promotion"), "label": _("年度升级")})
    return links


def _record_school_unit(enrollment: Enrollment) -> Any:
    return parties.resolve(Party.SCHOOL, school=enrollment.school, target_school=None)


def can_start_on_record(user: Any, enrollment: Enrollment) -> bool:
    """The record's own school registrar starts every record-based change (第7条: the school keeps it)."""
    if not enrollment.is_active:
        return False
    return acts_for(user, _record_school_unit(enrollment), Party.SCHOOL)


def _applies(kind: str, e: Enrollment, placed: bool) -> bool:
    """Whether ``kind`` fits the record's stage, grade and school (the kind's ``prepare`` decides anyway)."""
    spec = kinds.get(kind)
    if spec.from_statuses is not None and e.status not in spec.from_statuses:
        return False
    senior = not is_compulsory(e.stage)
    last = e.grade == graduating_grade(e.stage)
    special_school = e.school.school_type == SchoolType.SPECIAL
    rules: dict[str, bool] = {
        ChangeKind.GRADUATION: last,
        ChangeKind.COMPLETION: senior and last,
        ChangeKind.INCOMPLETE: senior,
        ChangeKind.REFORM_PLACEMENT: not placed,
        ChangeKind.REFORM_RETURN: placed,
        ChangeKind.SPECIAL_EDUCATION: not special_school,
        ChangeKind.SPECIAL_EDUCATION_DECISION: special_school
        or e.person.disability_type not in ("", DisabilityType.NONE),
    }
    return rules.get(kind, True)


def record_kinds(enrollment: Enrollment) -> list[dict[str, Any]]:
    """The changes that apply to a record's stage and status, for the "办理学籍变动" menu. A kind the
    regulation refuses outright for this record is listed disabled with the article (退学, 第18条)."""
    e = enrollment
    placed = current_placement(e.person_id) is not None
    out: list[dict[str, Any]] = []
    for kind in RECORD_KINDS:
        if not _applies(kind, e, placed):
            continue
        why = COMPULSORY_REFUSED.message if kind == ChangeKind.WITHDRAWAL and is_compulsory(e.stage) else ""
        out.append(
            {
                "kind": kind,
                "label": ChangeKind(kind).label,
                "url": f"{reverse('changes:new', args=[kind])}?student={e.person_id}",
                "why": why,
            }
        )
    return out


def open_request_of(viewer: Any, person_id: Any) -> ChangeRequest | None:
    return (
        requests_visible(viewer)
        .filter(person_id=person_id, state__in=list(OPEN_STATES))
        .order_by("created_at")
        .first()
    )


def student_changes_context(viewer: Any, enrollment: Enrollment) -> dict[str, Any]:
    """The "学籍变动" tab of a student's page: every visible request with its steps, and what may be started."""
    from .queries import timeline

    requests = timeline(viewer=viewer, person_id=enrollment.person_id)
    names = school_names(requests)
    entries = []
    for req in requests:
        source, target = from_to(req, names)
        entries.append({"req": req, "steps": list(req.steps.all()), "source": source, "target": target})
    can_start = can_start_on_record(viewer, enrollment)
    open_req = next((r for r in requests if r.state in OPEN_STATES), None)
    return {
        "change_timeline": entries,
        "change_open": open_req,
        "change_kinds": record_kinds(enrollment) if can_start and open_req is None else [],
        "change_can_start": can_start,
        "today": timezone.localdate(),
    }


# --------------------------------------------------------------------------------------------------------
# Worklist
# --------------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def worklist_view(request: HttpRequest) -> HttpResponse:
    """待办审核: the steps waiting for the viewer's units (days left, overdue in red) and, read-only, the
    overdue steps of the units below (第15条 clocks; 第5、26条 supervision); the in-system notifications."""
    user = request.user
    _require_roles(user)
    today = timezone.localdate()
    items = worklist(viewer=user, today=today)
    names = school_names([i.step.request for i in items])
    rows = [_row(i, names) for i in items]
    context = {
        "rows": [r for r in rows if not r.escalated],
        "escalated": [r for r in rows if r.escalated],
        "overdue_count": sum(1 for r in rows if r.overdue and not r.escalated),
        "filed": bool(data_grants(user)),
        "starts": start_links(user),
        **_notifications_context(user),
    }
    if county_units(user):
        from .kinds.deferral import deferrals_ending

        context["deferrals"] = deferrals_ending(viewer=user, today=today)
    return render(request, "changes/worklist.html", context)


def _notifications_context(user: Any) -> dict[str, Any]:
    unread = notifications_for(viewer=user)
    notes = list(unread[:NOTIFICATION_LIMIT])
    people = dict(
        Person.objects.filter(
            pk__in={n.request.person_id for n in notes if n.request is not None and n.request.person_id}
        ).values_list("pk", "name")
    )
    for n in notes:  # whose request it is: the stored message names only the kind and the step
        req = n.request
        name = ""
        if req is not None:
            name = people.get(req.person_id, "") if req.person_id else str((req.facts or {}).get("name", ""))
        n.student = name  # type: ignore[attr-defined]
    return {"notifications": notes, "notifications_count": unread.count()}


@login_required
@require_POST
@ui_errors
def notifications_read_view(request: HttpRequest) -> HttpResponse:
    """Mark one notification (``id``) or every unread one (``all=1``) as read."""
    user = request.user
    _require_roles(user)
    if request.POST.get("all") == "1":
        ids = list(notifications_for(viewer=user).values_list("pk", flat=True))
    else:
        ids = [int(i) for i in request.POST.getlist("id") if str(i).isdigit()]
    notification_mark_read(viewer=user, notification_ids=ids)
    if is_htmx(request):
        return render(request, "changes/_notifications.html", _notifications_context(user))
    return redirect(_safe_next(request, reverse("changes:worklist")))


@login_required
@require_POST
@ui_errors
def decide_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """Approve / reject / return the current step (the engine checks the step, the actor and the comment).

    htmx: the worklist row is replaced by its new state (or re-rendered with the refusal, nothing changed).
    Otherwise: back to ``next`` (or the request's page) with a message."""
    user = request.user
    req = request_get(viewer=user, request_id=request_id)
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    raw_position = request.POST.get("position", "")
    position = int(raw_position) if raw_position.isdigit() else None
    error = ""
    try:
        if action not in DECISIONS:
            raise ApplicationError("illegal_action", _("请选择同意、不同意或退回"))
        req = change_decide(actor=user, request=req, action=action, comment=comment, position=position)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        error = exc.message
    if is_htmx(request):
        return _render_row_after(request, req, position=position, action=action, error=error, comment=comment)
    if error:
        messages.error(request, error)
    else:
        req.refresh_from_db()
        messages.success(request, _outcome(req, action))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


def _render_row_after(
    request: HttpRequest, req: ChangeRequest, *, position: int | None, action: str, error: str, comment: str
) -> HttpResponse:
    req = (
        ChangeRequest.objects.select_related("person", "target_school", "initiator_org")
        .filter(pk=req.pk)
        .get()
    )
    steps = ApprovalStep.objects.select_related("org_unit", "decided_by").filter(request=req)
    step = (steps.filter(position=position).first() if position is not None else None) or steps.get(
        position=req.current_position
    )
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
        days_left=_days_left(step, timezone.localdate()),
    )
    row.overdue = row.days_left is not None and row.days_left < 0
    if error:
        still_mine = (
            req.state == RequestState.PENDING
            and step.position == req.current_position
            and step.state == StepState.PENDING
        )
        row.error, row.comment = error, comment
        row.actions = _actions(step) if still_mine else []
        if not still_mine:
            row.done = _("该环节已办理：%(state)s") % {"state": step.get_state_display()}
    else:
        row.done = _outcome(req, action)
    return render(request, "changes/_work_item.html", {"row": row})


# --------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------


def _list_rows(requests: list[ChangeRequest]) -> list[dict[str, Any]]:
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
            }
        )
    return rows


@login_required
@ui_errors
def request_list_view(request: HttpRequest) -> HttpResponse:
    """学籍变动: every request touching the viewer's region (either side), filtered by kind and state; and
    the open requests the viewer's units started (resubmit after a return, or cancel)."""
    user = request.user
    _require_roles(user)
    form = RequestFilterForm(request.GET or None)
    kind = state = ""
    if form.is_bound and form.is_valid():
        kind, state = form.cleaned_data["kind"], form.cleaned_data["state"]
    qs = requests_visible(user).select_related("person", "target_school", "initiator_org")
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    page = paginate(request, qs.prefetch_related("steps__org_unit").order_by("-created_at"))
    mine = list(
        my_requests(viewer=user)
        .select_related("target_school", "initiator_org")
        .prefetch_related("steps__org_unit")[:50]
    )
    context = {
        "form": form,
        "page": page,
        "rows": _list_rows(list(page.object_list)),
        "mine": _list_rows(mine),
        "starts": start_links(user),
        "filtered": bool(kind or state),
        "cancel_form": CancelForm(),
    }
    return render(request, "changes/list.html", context)


def _detail_context(request: HttpRequest, req: ChangeRequest) -> dict[str, Any]:
    user = request.user
    steps = list(req.steps.select_related("org_unit", "decided_by").order_by("position"))
    current = next((s for s in steps if s.position == req.current_position), None)
    can_decide = bool(
        req.state == RequestState.PENDING and current and acts_for(user, current.org_unit, current.party)
    )
    initiator = is_initiator(user, req)
    name, number = student_of(req)
    source, target = from_to(req, school_names([req]))
    student_url = ""
    if req.person_id:
        try:
            student_get(viewer=user, person_id=req.person_id)
        except NotFound:
            pass
        else:
            student_url = reverse("students:detail", args=[req.person_id])
    return {
        "req": req,
        "steps": steps,
        "current": current if req.is_open else None,
        "name": name,
        "number": number,
        "source": source,
        "target": target,
        "student_url": student_url,
        "facts": fact_rows(req),
        "attachments": list(req.attachments.select_related("uploaded_by").order_by("uploaded_at")),
        "can_decide": can_decide,
        "decide_actions": _actions(current) if can_decide and current else [],
        "can_resubmit": initiator and req.state == RequestState.RETURNED,
        "can_cancel": initiator and req.is_open,
        "can_attach": can_attach(user, req),
        "attachment_form": AttachmentForm(),
        "cancel_form": CancelForm(),
        "resubmit_form": ResubmitForm(),
        "today": timezone.localdate(),
        "max_mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024),
    }


@login_required
@ui_errors
def detail_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = request.user
    _require_roles(user)
    req = request_get(viewer=user, request_id=request_id)
    return render(request, "changes/detail.html", _detail_context(request, req))


@login_required
@require_POST
@ui_errors
def resubmit_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = request.user
    req = request_get(viewer=user, request_id=request_id)
    try:
        change_resubmit(actor=user, request=req, comment=request.POST.get("comment", ""))
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已重新提交"))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


@login_required
@require_POST
@ui_errors
def cancel_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = request.user
    req = request_get(viewer=user, request_id=request_id)
    try:
        change_cancel(actor=user, request=req, reason=request.POST.get("reason", ""))
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("申请已撤销，学籍未作变动"))
    return redirect(_safe_next(request, reverse("changes:detail", args=[req.pk])))


@login_required
@require_POST
@ui_errors
def attachment_upload_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = request.user
    req = request_get(viewer=user, request_id=request_id)
    form = AttachmentForm(request.POST, request.FILES)
    upload = request.FILES.get("att-file")
    data = upload.read(settings.ARCHIVE_MAX_BYTES + 1) if upload else b""
    try:
        attachment_add(actor=user, request=req, title=request.POST.get("att-title", ""), data=data)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
        context = _detail_context(request, req)
        context["attachment_form"] = form
        return render(request, "changes/detail.html", context, status=400)
    messages.success(request, _("已添加附件"))
    return redirect(reverse("changes:detail", args=[req.pk]) + "#attachments")


@login_required
@ui_errors
def attachment_file_view(request: HttpRequest, request_id: Any, attachment_id: Any) -> FileResponse:
    attachment = attachment_open(actor=request.user, request_id=request_id, attachment_id=attachment_id)
    ext = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
        attachment.content_type, "bin"
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=f"change-{attachment.pk}.{ext}",
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------------------
# Starting a change
# --------------------------------------------------------------------------------------------------------


def _pick(options: list[Any], chosen: str) -> Any:
    return next((o for o in options if str(o.pk) == chosen), options[0])


def _reform_schools(province_code: str) -> list[School]:
    return list(
        School.objects.filter(
            school_type=SchoolType.REFORM, state=SchoolState.ACTIVE, province_code=province_code
        ).order_by("name")[:200]
    )


@login_required
@ui_errors
def new_view(request: HttpRequest, kind: str) -> HttpResponse:
    """Start one change. Record-based kinds: the record's school registrar, from the student's page
    (``?student=<person id>``). Transfer / progression: the receiving school names the student by 学籍号 +
    姓名 and sees only the school and grade before submitting. Return from abroad: the receiving school.
    Deferral: the county of household registration (第11条)."""
    user = request.user
    _require_roles(user)
    if kind not in KIND_FORMS:
        raise Http404()
    form_class = KIND_FORMS[kind]
    data = request.POST if request.method == "POST" else None
    ctx: dict[str, Any] = {
        "kind": kind,
        "kind_label": ChangeKind(kind).label,
        "form_class": form_class,
        # One key per rendered form: a double click or a replayed POST returns the request made first.
        "idempotency_key": (request.POST.get("idempotency_key") or uuid.uuid4().hex)[:80],
    }
    if kind in RECORD_KINDS:
        return _new_on_record(request, kind, form_class, data, ctx)
    if kind in TARGET_KINDS:
        return _new_at_target(request, kind, form_class, data, ctx)
    return _new_deferral(request, form_class, data, ctx)


def _submit(
    request: HttpRequest, form: KindForm, ctx: dict[str, Any], *, lookup_field: str = "", **kwargs: Any
) -> HttpResponse | None:
    """Call the engine; on success redirect to the new request, on refusal attach the errors to ``form``."""
    try:
        req = change_submit(
            actor=request.user,
            kind=form.kind,
            facts=form.facts(),
            reason=form.request_reason(),
            idempotency_key=request.POST.get("idempotency_key", "")[:80],
            **kwargs,
        )
    except NotFound as exc:
        if not lookup_field:
            raise
        form.apply_errors({lookup_field: exc.message}, exc.message, exc.code)
    except Forbidden:
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
    else:
        messages.success(request, _("已提交%(kind)s申请") % {"kind": req.get_kind_display()})
        return redirect("changes:detail", req.pk)
    return None


def _new_on_record(
    request: HttpRequest, kind: str, form_class: type[KindForm], data: Any, ctx: dict[str, Any]
) -> HttpResponse:
    user = request.user
    person_id = (request.POST.get("student") if data is not None else None) or request.GET.get("student", "")
    enrollment = student_get(viewer=user, person_id=person_id or None)
    if not can_start_on_record(user, enrollment):
        raise Forbidden(
            "not_initiator", _("%(kind)s须由学生所在学校的学籍管理员发起") % {"kind": ChangeKind(kind).label}
        )
    extra: dict[str, Any] = {}
    if kind == ChangeKind.REFORM_PLACEMENT:
        extra["reform_schools"] = _reform_schools(enrollment.province_code)
    form = form_class(data, enrollment=enrollment, school=enrollment.school, **extra)
    refusal = ""
    in_flight = open_request_of(user, enrollment.person_id)
    if kind == ChangeKind.WITHDRAWAL and is_compulsory(enrollment.stage):
        refusal = COMPULSORY_REFUSED.message  # 第18条: said up front; the engine refuses it anyway
        ctx["refusal_code"] = COMPULSORY_REFUSED.code
    elif in_flight is not None:
        refusal = ONE_OPEN.message  # one request in flight per student (the engine refuses it anyway)
        ctx.update(in_flight=in_flight, refusal_code=ONE_OPEN.code)
    if data is not None:
        response = _submit(request, form, ctx, enrollment=enrollment)
        if response is not None:
            return response
    person = enrollment.person
    ctx.update(
        form=form,
        enrollment=enrollment,
        person=person,
        number=_mask_number(person.student_number),
        grade=GRADE_LABELS.get(enrollment.grade, enrollment.grade),
        refusal=refusal,
        hidden={"student": str(person.pk)},
        current_key_data=_current_key_data(person) if kind == ChangeKind.KEY_DATA_CHANGE else [],
    )
    return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)


def _current_key_data(person: Any) -> list[tuple[str, str]]:
    return [
        (_("姓名"), person.name),
        (_("性别"), person.get_gender_display()),
        (_("出生日期"), person.birth_date.isoformat()),
        (_("身份证件类型"), person.get_id_type_display()),
        (_("身份证件号"), mask_id_number(person.id_number) if person.id_number else "—"),
    ]


def _new_at_target(
    request: HttpRequest, kind: str, form_class: type[KindForm], data: Any, ctx: dict[str, Any]
) -> HttpResponse:
    schools = registrar_schools(request.user)
    if not schools:
        raise NotFound()
    school = _pick(schools, (data or request.GET).get("target", ""))
    ctx.update(schools=schools, school=school, hidden={"target": str(school.pk)} if len(schools) == 1 else {})
    if kind == ChangeKind.RETURN_FROM_ABROAD:
        form = form_class(data, school=school)
        if data is not None:
            facts = form.facts()
            try:
                # A national lookup: rate-limited and audited (issue #6 §3 leaks 2, 10). Without both
                # values there is nothing to look up: the engine names the missing field.
                if facts.get("student_number") and facts.get("name"):
                    national_lookup(
                        viewer=request.user,
                        kind=kind,
                        student_number=facts["student_number"],
                        name=facts["name"],
                    )
            except NotFound as exc:
                form.apply_errors({"student_number": exc.message}, exc.message, exc.code)
            else:
                response = _submit(request, form, ctx, lookup_field="student_number", target_school=school)
                if response is not None:
                    return response
        ctx["form"] = form
        return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)
    # Transfer / progression: step 1 names the student; step 2 (found) shows only the school and grade.
    lookup = LookupForm(data)
    ctx["lookup"] = lookup
    if data is None:
        return render(request, "changes/new.html", ctx)
    number, name = lookup.values()
    try:
        if not number or not name:
            raise NotFound(_("请填写学籍号和姓名"))
        # A national lookup: rate-limited and audited (issue #6 §3 leaks 2, 10).
        found = national_lookup(viewer=request.user, kind=kind, student_number=number, name=name)
    except NotFound as exc:
        lookup.apply_errors({"student_number": exc.message}, exc.message, exc.code)
        return render(request, "changes/new.html", ctx, status=400)
    next_stage = NEXT_STAGE.get(found.stage) if kind == ChangeKind.PROGRESSION else None
    form = form_class(
        data if request.POST.get("step") == "submit" else None,
        school=school,
        next_stage=next_stage,
        initial={"student_number": number, "name": name},
    )
    ctx.update(
        form=form,
        found={
            "school": found.school.name,
            "grade": GRADE_LABELS.get(found.grade, found.grade),
            "stage": Stage(found.stage).label,
            "graduated": found.status == StudentStatus.GRADUATED,
        },
        hidden={"target": str(school.pk), "student_number": number, "name": name, "step": "submit"},
    )
    if request.POST.get("step") == "submit":
        response = _submit(request, form, ctx, enrollment=found, target_school=school)
        if response is not None:
            return response
        return render(request, "changes/new.html", ctx, status=400)
    return render(request, "changes/new.html", ctx)


def _new_deferral(
    request: HttpRequest, form_class: type[KindForm], data: Any, ctx: dict[str, Any]
) -> HttpResponse:
    counties = county_units(request.user)
    if not counties:
        raise NotFound()
    county = _pick(counties, (data or {}).get("county", "") if data is not None else "")
    form = form_class(data, counties=counties)
    if data is not None:
        response = _submit(request, form, ctx, household_county=county)
        if response is not None:
            return response
    ctx.update(form=form, county=county, hidden={})
    return render(request, "changes/new.html", ctx, status=400 if form.errors else 200)


# --------------------------------------------------------------------------------------------------------
# Cohorts and the annual promotion
# --------------------------------------------------------------------------------------------------------


def _skipped_rows(result: Any) -> list[dict[str, str]]:
    return [{"name": s.name, "message": s.message, "code": s.code} for s in result.skipped]


def _mask_name(name: str) -> str:
    """张*明 / 李* — the admitting school sees who is coming without the full names of another school's pupils."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@login_required
@ui_errors
def cohort_graduation_view(request: HttpRequest) -> HttpResponse:
    """毕业 of a whole graduating grade (第19条): preview the students, then one request each in one go;
    students with business in flight or an open 问题学籍 are skipped and listed."""
    user = request.user
    _require_roles(user)
    schools = registrar_schools(user)
    if not schools:
        raise NotFound()
    data = request.POST if request.method == "POST" else (request.GET if "grade" in request.GET else None)
    form = GraduationCohortForm(data, schools=schools)
    ctx: dict[str, Any] = {"form": form, "schools": schools}
    if data is None:
        return render(request, "changes/cohort_graduation.html", ctx)
    school = _pick(schools, str(data.get("school", "")))
    kind = str(data.get("kind") or ChangeKind.GRADUATION)
    grade_raw = str(data.get("grade", ""))
    ctx.update(school=school, kind_label=ChangeKind(kind).label if kind in ChangeKind.values else "")
    if not grade_raw.isdigit() or int(grade_raw) not in (6, 9, 12):
        form.apply_errors({"grade": _("请选择毕业年级")})
        return render(request, "changes/cohort_graduation.html", ctx, status=400)
    grade = int(grade_raw)
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            result = graduate_cohort(actor=user, school=school, grade=grade, kind=kind)
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
            return render(request, "changes/cohort_graduation.html", ctx, status=400)
        ctx.update(result=result, skipped=_skipped_rows(result), grade=grade)
        return render(request, "changes/cohort_graduation.html", ctx)
    from xueji.students.queries import StudentFilters, student_list

    enrollments = list(
        student_list(viewer=user, filters=StudentFilters(school_id=school.pk, grade=grade)).filter(
            status__in=["01", "05"]
        )[:2000]
    )
    busy = set(
        requests_visible(user)
        .filter(person_id__in=[e.person_id for e in enrollments], state__in=list(OPEN_STATES))
        .values_list("person_id", flat=True)
    )
    ctx.update(
        grade=grade,
        preview=[
            {"e": e, "number": _mask_number(e.person.student_number), "busy": e.person_id in busy}
            for e in enrollments
        ],
        busy_count=len(busy),
        hidden={"school": str(school.pk), "kind": kind, "grade": str(grade), "confirm": "1"},
    )
    return render(request, "changes/cohort_graduation.html", ctx)


@login_required
@ui_errors
def cohort_progression_view(request: HttpRequest) -> HttpResponse:
    """升学 of a whole graduating grade into the viewer's school (第14条): the admitting school names the
    graduating school by its 学校标识码, previews the cohort, then starts one request each. A graduating school
    outside the admitting school's department is a 404 for the preview and the submission alike."""
    user = request.user
    _require_roles(user)
    schools = registrar_schools(user)
    if not schools:
        raise NotFound()
    data = request.POST if request.method == "POST" else None
    form = ProgressionCohortForm(data, schools=schools)
    ctx: dict[str, Any] = {"form": form, "schools": schools}
    if data is None:
        return render(request, "changes/cohort_progression.html", ctx)
    school = _pick(schools, str(data.get("school", "")))
    code = str(data.get("from_school_code", "")).strip()
    grade_raw = str(data.get("grade", ""))
    class_name = str(data.get("class_name", "")).strip()
    errors = {}
    # A school code is public (学校标识码), but a cohort lists a school's pupils: only a school under the
    # admitting school's department may be named (the services answer 404 for any other, 第14条).
    from_school = (
        School.objects.select_related("org", "supervising_dept").filter(school_code=code).first()
        if code
        else None
    )
    if from_school is None:
        errors["from_school_code"] = _("未找到该学校标识码对应的学校")
    if grade_raw not in ("6", "9"):
        errors["grade"] = _("请选择毕业年级")
    if not class_name:
        errors["class_name"] = _("请填写编入班级")
    if errors:
        form.apply_errors(errors)
        return render(request, "changes/cohort_progression.html", ctx, status=400)
    assert from_school is not None
    grade = int(grade_raw)
    ctx.update(school=school, from_school=from_school, grade=grade, class_name=class_name)
    if request.POST.get("confirm") == "1":
        try:
            result = progress_cohort(
                actor=user,
                from_school=from_school,
                to_school=school,
                grade=grade,
                class_name=class_name,
                admission_ref=str(data.get("admission_ref", "")),
            )
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
            return render(request, "changes/cohort_progression.html", ctx, status=400)
        ctx.update(
            result=result, skipped=[{**s, "name": _mask_name(s["name"])} for s in _skipped_rows(result)]
        )
        return render(request, "changes/cohort_progression.html", ctx)
    # 404 unless the graduating school is under the admitting school's department (issue #6 §3.1).
    candidates = cohort_preview(
        actor=user, from_school=from_school, to_school=school, grade=grade, today=timezone.localdate()
    )
    ctx.update(
        preview=[
            {
                "name": _mask_name(e.person.name),
                "number": _mask_number(e.person.student_number),
                "class_name": e.class_name,
                "graduated": e.status == StudentStatus.GRADUATED,
            }
            for e in candidates
        ],
        hidden={
            "school": str(school.pk),
            "from_school_code": code,
            "grade": str(grade),
            "class_name": class_name,
            "admission_ref": str(data.get("admission_ref", "")),
            "confirm": "1",
        },
    )
    return render(request, "changes/cohort_progression.html", ctx)


def current_school_year(today: date) -> int:
    return today.year if today.month >= 7 else today.year - 1


@login_required
@ui_errors
def promotion_view(request: HttpRequest) -> HttpResponse:
    """年度升级 (第7条): a county-or-above department registrar previews the promotion of a region (counts per
    school and grade, the exceptions), then runs it in one audited operation — on the task queue
    (``changes.tasks.run_promotion``): the page polls ``?job=<id>`` and shows the report when it is done."""
    from .promotion import CATEGORIES, CATEGORY_LABELS, promotion_check, promotion_preview
    from .tasks import promotion_enqueue, promotion_job

    user = request.user
    _require_roles(user)
    units = promotion_units(user)
    if not units:
        raise NotFound()
    today = timezone.localdate()
    job = None
    if request.method == "GET" and "job" in request.GET:
        job = promotion_job(viewer=user, task_id=request.GET["job"])
        if job is None:
            raise NotFound()
    data: Any = (
        request.POST if request.method == "POST" else (request.GET if "school_year" in request.GET else None)
    )
    if job is not None:
        data = {"org_unit": str(job.org_unit_id), "school_year": str(job.school_year)}
    form = PromotionForm(data, units=units, school_year=current_school_year(today))
    ctx: dict[str, Any] = {"form": form}
    if data is None:
        return render(request, "changes/promotion.html", ctx)
    unit = _pick(units, str(data.get("org_unit", "")))
    year_raw = str(data.get("school_year", "")).strip()
    ctx["unit"] = unit
    try:
        year = int(year_raw)
        if request.method == "POST" and request.POST.get("confirm") == "1":
            promotion_check(actor=user, org_unit=unit, school_year=year, today=today)
            task_id = promotion_enqueue(actor=user, org_unit=unit, school_year=year, today=today)
            return redirect(f"{reverse('changes:promotion')}?job={task_id}")
        if job is not None and job.running:
            ctx.update(job=job, year=year)
            template = "changes/_promotion_job.html" if is_htmx(request) else "changes/promotion.html"
            return render(request, template, ctx)
        if job is not None and is_htmx(request):  # the poll that sees the run finish reloads the page
            response = HttpResponse(status=200)
            response["HX-Redirect"] = request.get_full_path()
            return response
        if job is not None and job.error_code:
            raise ApplicationError(job.error_code, job.error_message)
        if job is not None and job.report is not None:
            report = job.report
            ctx["ran"] = True
        else:
            report = promotion_preview(actor=user, org_unit=unit, school_year=year, today=today)
    except ValueError:
        form.apply_errors({"school_year": _("学年须为四位年份，例如 2026")})
        return render(request, "changes/promotion.html", ctx, status=400)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
        return render(request, "changes/promotion.html", ctx, status=400)
    ctx.update(
        report=report,
        year=year,
        count_cards=[(c, CATEGORY_LABELS[c], report.counts.get(c, 0)) for c in CATEGORIES],
        rows=[
            {
                **row,
                "grade_label": GRADE_LABELS.get(row["grade"], row["grade"]),
                "other": row.get("grade_settled", 0) + row.get("other_status", 0),
            }
            for row in report.by_school_grade
        ],
        in_flight=[
            {
                **s,
                "number": _mask_number(s["student_number"]),
                "kind_label": ChangeKind(s["kind"]).label if s["kind"] else "",
                "grade_label": GRADE_LABELS.get(s["grade"], s["grade"]),
            }
            for s in report.in_flight
        ],
        hidden={"org_unit": str(unit.pk), "school_year": str(year), "confirm": "1"},
    )
    return render(request, "changes/promotion.html", ctx)
