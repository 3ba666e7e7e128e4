"""Student pages: search, the record (basic, non-basic, family, archive, history), registration, problem records.

- Jurisdiction: every read goes through :mod:`xueji.students.queries` (scoped); outside → 404 (第5、23条).
- Identity and phone numbers are masked on every page; revealing one is a separate, audited POST (第24条).
- Opening a record is one audited full view (``STUDENT_VIEWED``); the record's page shows its history.
- 学籍号 is a direct identifier (security.md §0): URLs carry the person's UUID, pages show it masked.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import (
    NOT_FILED,
    all_grants,
    data_grants,
    require_registrar_for_school,
    require_student_roles,
    school_registrar_units,
)
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.masking import mask_phone, mask_student_number
from xueji.core.pagination import PAGE_SIZES, batch_after, offset_param, page_size_param
from xueji.core.ratelimit import RateLimited, ratelimit_hit
from xueji.core.web import paginate, ui_errors, url_or_none
from xueji.policies.extra_fields import display_value
from xueji.policies.queries import (
    extra_fields_for,
    extra_validator_for,
    grade_age_rules_for,
    rule_confirmations_for,
)
from xueji.regions import divisions
from xueji.schools.grades import grade_label
from xueji.schools.models import School
from xueji.schools.queries import school_get, school_list

from .enums import StudentStatus
from .fields import ENROLLMENT_FIELDS, PERSON_FIELDS, FieldSpec
from .forms import (
    BASIC_KEYS,
    IDENTITY_KEYS,
    ArchiveForm,
    GuardianForm,
    RegistrationForm,
)
from .models import Enrollment, ProblemRecord
from .queries import (
    LIST_SORTS,
    StudentFilters,
    enrollment_get,
    enrollment_list,
    frozen_at,
    list_grades,
    listed_person,
    masked,
    problem_get,
    record_documents,
    record_guardians,
    record_history,
    student_history,
)
from .records import (
    archive_attach,
    archive_complete,
    archive_open,
    guardian_add,
    problem_resolve,
    student_reveal,
    student_view,
)
from .sections import record_sections_context
from .services import register_students
from .validation import RegistrationInvalid, choice_label, clean_registration

SCHOOL_SELECT_LIMIT = 300
REGISTERED_FLASH = "xj_registered"  # one-shot, server-side (the full 学籍号 never goes into a cookie)


# --------------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------------

#: Batch actions on the rows selected in the list (issue 8 item 11), as (url name, label), offered to school
#: registrars (the actions write records of their own school) once the URL exists. The selection bar
#: (templates/students/_selection.html) posts the selected students' ids — the person UUIDs of the record
#: URLs — as ``ids``, and the list's address as ``next``. The roster export takes no ids: no "导出所选".
SELECTION_ACTIONS: tuple[tuple[str, Any], ...] = (("students:class_move", gettext_lazy("调班")),)

#: The sortable columns of the list; each sorts by the LIST_SORTS key of its name ("-" + name: descending).
SORT_COLUMNS = {
    "name": gettext_lazy("姓名"),
    "school": gettext_lazy("学校"),
    "grade": gettext_lazy("年级班级"),
}


def _int(value: str | None, low: int, high: int) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if low <= number <= high else None


def filters_from(request: HttpRequest, grades: Collection[int] = range(1, 13)) -> StudentFilters:
    """The list's filters from the query string; a value outside what the page offers is no filter
    (a grade the viewer's schools do not teach, an unknown status or sort)."""
    get = request.GET
    status = get.get("status", "")
    sort = get.get("sort", "")
    grade = _int(get.get("grade"), 1, 12)
    return StudentFilters(
        q=get.get("q", "").strip()[:60],
        school_id=_int(get.get("school"), 1, 2**62),
        grade=grade if grade in grades else None,
        class_name=get.get("class_name", "").strip()[:30],
        status=status if status in StudentStatus.values else "",
        include_inactive=get.get("former") == "1",
        sort=sort if sort in LIST_SORTS else "",
    )


def _row(e: Enrollment) -> dict[str, Any]:
    p = listed_person(e)  # a former record that moved on: its snapshot (issue #6 §3.5)
    return {
        "e": e,
        "person": p,
        "number": mask_student_number(p.student_number),
        "id_masked": masked(p.id_number),
        "grade": grade_label(e.grade),
    }


def _grade_options(user: Actor, school_id: int | None) -> list[tuple[int, str]]:
    """The grades the filter offers: those of the chosen school's stages, else of the stages of the viewer's
    schools (a primary school's registrar is not offered 初一); all twelve above :data:`SCHOOL_SELECT_LIMIT`
    schools (a city or a province teaches every stage). One light query."""
    stages: dict[int, list[str]] = {}
    if data_grants(user):
        rows = school_list(viewer=user).order_by().values_list("pk", "stages")[: SCHOOL_SELECT_LIMIT + 1]
        stages = {pk: list(st or ()) for pk, st in rows}
    if school_id is not None and school_id in stages:
        grades = list_grades([stages[school_id]])
    elif 0 < len(stages) <= SCHOOL_SELECT_LIMIT:
        grades = list_grades(stages.values())
    else:
        grades = list(range(1, 13))
    return [(g, grade_label(g)) for g in grades]


def _sort_headers(current: str) -> dict[str, dict[str, str]]:
    """Per sortable column: its label, the sort its header link asks for (ascending first, then toggling) and
    the column's ``aria-sort`` state."""
    current = current or "school"  # the default order is the school column's, ascending
    headers = {}
    for column, label in SORT_COLUMNS.items():
        if current == column and f"-{column}" not in LIST_SORTS:  # no reverse (school): the link stays
            next_sort, state = column, "ascending"
        elif current == column:
            next_sort, state = f"-{column}", "ascending"
        elif current == f"-{column}":
            next_sort, state = column, "descending"
        else:
            next_sort, state = column, "none"
        headers[column] = {"label": str(label), "next": next_sort, "state": state}
    return headers


def _selection_actions(user: Actor) -> list[dict[str, str]]:
    if not school_registrar_units(user):
        return []
    actions = []
    for name, label in SELECTION_ACTIONS:
        url = url_or_none(name)
        if url is not None:
            actions.append({"url": url, "label": str(label)})
    return actions


@login_required
@ui_errors
def student_list_view(request: HttpRequest) -> HttpResponse:
    """学生查询: by any part of the name, 学籍号 or exact identity number; filters; sortable columns; 20/50/100
    a page; rows selectable for batch actions; htmx live results (issue 8 item 11)."""
    user = actor_of(request)
    require_student_roles(user)
    ratelimit_hit(user, "list")  # issue #6 §3.10: a Chinese 429 above the account's limit
    grades = _grade_options(user, _int(request.GET.get("school"), 1, 2**62))
    filters = filters_from(request, [g for g, _label in grades])
    size = page_size_param(request.GET.get("size"))
    page = paginate(request, enrollment_list(viewer=user, filters=filters), per_page=size)
    context = {
        "page": page,
        "rows": [_row(e) for e in page.object_list],
        "f": filters,
        "size": size,
        "sizes": PAGE_SIZES,
        "grades": grades,
        "sort_headers": _sort_headers(filters.sort),
        "selection_actions": _selection_actions(user),
        "filtered": any([filters.q, filters.school_id, filters.grade, filters.class_name, filters.status]),
    }
    if is_htmx(request) and not request.headers.get("HX-History-Restore-Request"):
        return render(request, "students/_results.html", {**context, "oob": True})
    schools = list(school_list(viewer=user)[: SCHOOL_SELECT_LIMIT + 1]) if data_grants(user) else []
    context.update(
        filed=bool(data_grants(user)),
        schools=schools if 1 < len(schools) <= SCHOOL_SELECT_LIMIT else [],
        statuses=StudentStatus.choices,
        can_register=bool(_registrar_schools(user)),
    )
    return render(request, "students/list.html", context)


# --------------------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------------------


def _display(spec: FieldSpec, value: Any) -> str:
    if value is None or value == "":
        return ""
    if spec.kind == "code" and spec.choices is not None:
        try:
            return str(spec.choices(value).label)
        except ValueError:
            return str(value)
    if spec.kind == "bool":
        return _("是") if value else _("否")
    if spec.kind == "region":
        try:
            name = divisions.full_name(value)
        except KeyError:  # a historical code has no current name: show its digits
            name = ""
        return f"{value} {name}".strip()
    if spec.kind == "date" and isinstance(value, date):
        return value.isoformat()
    if spec.kind == "ym" and len(str(value)) == 6:
        return f"{str(value)[:4]}-{str(value)[4:]}"
    if spec.kind == "grade":
        return grade_label(value)
    return str(value)


_SPECS = {s.key: s for s in PERSON_FIELDS + ENROLLMENT_FIELDS}
BASIC_GROUPS = (
    (
        gettext_lazy("基本信息"),
        BASIC_KEYS,
    ),
    (gettext_lazy("身份证件"), IDENTITY_KEYS),
    (
        gettext_lazy("联系方式"),
        ("phone", "postal_code", "current_address", "mailing_address", "home_address", "email"),
    ),
    (
        gettext_lazy("其他标记"),
        (
            "only_child",
            "preschool",
            "left_behind",
            "migrant_child",
            "orphan",
            "martyr_child",
            "inclusive_education",
            "disability_type",
            "govt_funded_place",
            "needs_aid",
            "boarding_subsidy",
        ),
    ),
)
REVEALABLE = ("student_number", "id_number", "phone")
REVEAL_LABELS = {
    "student_number": gettext_lazy("学籍号"),
    "id_number": gettext_lazy("身份证件号"),
    "phone": gettext_lazy("联系电话"),
}


def basic_groups(enrollment: Enrollment) -> list[dict[str, Any]]:
    person = enrollment.person
    groups = []
    for title, keys in BASIC_GROUPS:
        rows = []
        for key in keys:
            spec = _SPECS[key]
            value = getattr(person, key)
            row: dict[str, Any] = {"label": _(spec.label), "value": _display(spec, value), "key": key}
            # A former school's snapshot offers no reveal of ID number or phone (issue #6 §3.5).
            can_reveal = bool(value) and frozen_at(enrollment) is None
            if key == "id_number":
                row.update(value=masked(value), reveal=can_reveal, mono=True)
            elif key == "phone":
                row.update(value=mask_phone(value), reveal=can_reveal, mono=True)
            rows.append(row)
        if keys is IDENTITY_KEYS:
            # Issue 8 item 1: the full 学籍号 (J-numbered pupils without an ID too) through the same audited
            # reveal; a former school's copy may reveal it as well — it never changes (第8条).
            rows.insert(
                0,
                {
                    "label": _("学籍号"),
                    "key": "student_number",
                    "value": mask_student_number(person.student_number),
                    "reveal": True,
                    "mono": True,
                },
            )
        groups.append({"title": title, "rows": rows})
    e = enrollment
    school_rows = [
        {"label": _("学校"), "value": e.school.name, "url": reverse("schools:detail", args=[e.school_id])},
        {"label": _("学段"), "value": e.get_stage_display()},
        *[{"label": _(s.label), "value": _display(s, getattr(e, s.key))} for s in ENROLLMENT_FIELDS],
        {"label": _("学籍状态"), "value": e.get_status_display()},
        {"label": _("注册时间"), "value": timezone.localtime(e.registered_at).strftime("%Y-%m-%d %H:%M")},
    ]
    groups.insert(1, {"title": _("在校信息"), "rows": school_rows})
    return groups


def extra_rows(person: Any) -> list[dict[str, str]]:
    """第3条: the province's non-basic fields, labelled by its active field set where one exists."""
    values = dict(person.extra or {})
    _version, defs = extra_fields_for(person.province_code)
    rows = []
    for d in defs:
        if d.key in values:
            rows.append({"label": d.label, "value": display_value(d, values.pop(d.key))})
        else:
            rows.append({"label": d.label, "value": ""})
    rows.extend({"label": key, "value": str(value)} for key, value in values.items())
    return rows


def _can_edit(user: Actor, enrollment: Enrollment) -> bool:
    """Only the school's own filed registrar edits, and only an active record (第7条)."""
    if not enrollment.is_active:
        return False
    try:
        require_registrar_for_school(user, enrollment.school)
    except ApplicationError:
        return False
    return True


_FIELD_SPECS = {s.key: s for s in PERSON_FIELDS}


def _shown(spec: FieldSpec | None, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if spec is not None and spec.choices is not None and isinstance(value, str):
        return choice_label(spec.choices, value)
    return str(value)


#: A record page shows the latest rows of each history; the rest load on demand (issue 7).
HISTORY_FIRST = 15


def _more_url(person_id: Any, part: str, offset: int | None, include_views: bool = True) -> str | None:
    if offset is None:
        return None
    url = reverse("students:history", args=[person_id])
    return f"{url}?part={part}&offset={offset}" + ("" if include_views else "&views=0")


def _events_batch(user: Actor, enrollment: Enrollment, include_views: bool, offset: int) -> dict[str, Any]:
    person_id = enrollment.person_id
    events, more = batch_after(
        student_history(viewer=user, person_id=person_id, include_views=include_views, checked=enrollment),
        offset,
        HISTORY_FIRST,
    )
    return {"events": events, "more_url": _more_url(person_id, "events", more, include_views)}


def _field_batch(user: Actor, enrollment: Enrollment, offset: int) -> dict[str, Any]:
    """The record history of personal fields (issue #6 §3.3: the values the audit trail masks), labelled."""
    person_id = enrollment.person_id
    rows, more = batch_after(
        record_history(viewer=user, person_id=person_id, checked=enrollment), offset, HISTORY_FIRST
    )
    changes = []
    for row in rows:
        spec = _FIELD_SPECS.get(row.field.rsplit(".", 1)[-1])
        changes.append(
            {
                "row": row,
                "label": spec.label if spec else row.field,
                "before": _shown(spec, row.before),
                "after": _shown(spec, row.after),
            }
        )
    return {"changes": changes, "more_url": _more_url(person_id, "fields", more)}


@login_required
@ui_errors
def student_history_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """The next rows of a record's history (htmx "显示更早的记录"): audit events or field changes, scoped like
    the record itself (404 outside the viewer's jurisdiction). Not a view of the record: no audit event."""
    user = actor_of(request)
    ratelimit_hit(user, "list")
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    offset = offset_param(request.GET.get("offset"))
    if request.GET.get("part") == "fields":
        return render(request, "audit/_record_history_rows.html", _field_batch(user, enrollment, offset))
    include_views = request.GET.get("views") != "0"
    return render(request, "audit/_history_rows.html", _events_batch(user, enrollment, include_views, offset))


def _render_detail(
    request: HttpRequest,
    enrollment: Enrollment,
    *,
    guardian_form: GuardianForm | None = None,
    archive_form: ArchiveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the whole record — an audited full view (exactly one STUDENT_VIEWED per rendering)."""
    user = actor_of(request)
    person = enrollment.person
    student_view(actor=user, enrollment=enrollment)
    today = timezone.localdate()
    include_views = request.GET.get("views") != "0"
    history = _events_batch(user, enrollment, include_views, 0)
    field_changes = _field_batch(user, enrollment, 0)
    flash = request.session.pop(REGISTERED_FLASH, None)
    if flash and flash.get("person") != str(person.pk):
        flash = None
    guardians = [
        {"g": g, "phone": mask_phone(g.phone), "id_masked": masked(g.id_number)}
        for g in record_guardians(enrollment)  # a former school's copy: the family as it was (issue #6 §3.5)
    ]
    documents = sorted(record_documents(enrollment), key=lambda d: d.uploaded_at, reverse=True)
    open_problems = [p for p in person.problems.all() if p.state == ProblemRecord.State.OPEN]
    can_edit = _can_edit(user, enrollment)
    context = {
        "e": enrollment,
        "person": person,
        "number": mask_student_number(person.student_number),
        "groups": basic_groups(enrollment),
        "extra_rows": extra_rows(person),
        "guardians": guardians,
        "documents": documents,
        "archive_days": (enrollment.archive_due - today).days,
        "overdue_days": max((today - enrollment.archive_due).days, 0),
        "grade": grade_label(enrollment.grade),
        "history": history["events"],
        "history_more_url": history["more_url"],
        "field_changes": field_changes["changes"],
        "field_more_url": field_changes["more_url"],
        "include_views": include_views,
        "flash": flash,
        "open_problems": open_problems,
        "can_edit": can_edit,
        "guardian_form": guardian_form or (GuardianForm() if can_edit else None),
        "archive_form": archive_form or (ArchiveForm() if can_edit else None),
        "max_mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024),
        "revealable": REVEALABLE,
        "frozen_at": frozen_at(enrollment),  # a former school's snapshot (issue #6 §3.5)
        # Issue 8 item 4: the registrar's confirmation of an unusual age for the grade, with its reason.
        "confirmations": rule_confirmations_for(enrollment.pk),
    }
    # Sections of apps above students, e.g. the "学籍变动" tab of changes (timeline and actions).
    context.update(record_sections_context(user, enrollment))
    return render(request, "students/detail.html", context, status=status)


@login_required
@ui_errors
def student_detail(request: HttpRequest, person_id: Any) -> HttpResponse:
    user = actor_of(request)
    ratelimit_hit(user, "list")  # issue #6 §3.10
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    return _render_detail(request, enrollment)


@login_required
@require_POST
@ui_errors
def student_reveal_view(request: HttpRequest, person_id: Any, field: str) -> HttpResponse:
    """Show one full identifier in place (htmx) — an audited STUDENT_REVEALED event."""
    user = actor_of(request)
    if field not in REVEALABLE:
        raise Http404()
    ratelimit_hit(user, "reveal")  # issue #6 §3.10: a 429 fragment above the account's limit
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    value = student_reveal(actor=user, enrollment=enrollment, field=field)
    template = "students/_revealed.html" if is_htmx(request) else "students/revealed_page.html"
    return render(
        request,
        template,
        {
            "value": value,
            "e": enrollment,
            "field": field,
            "label": REVEAL_LABELS[field],
        },
    )


@login_required
@require_POST
@ui_errors
def guardian_add_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    user = actor_of(request)
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    form = GuardianForm(request.POST)
    try:
        guardian_add(actor=user, enrollment=enrollment, data=form.raw())
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        form.apply_errors(exc.fields, exc.message, exc.code)
        return _render_detail(request, enrollment, guardian_form=form, status=400)
    messages.success(request, _("已添加家庭成员"))
    return redirect(reverse("students:detail", args=[enrollment.person_id]) + "#family")


@login_required
@require_POST
@ui_errors
def archive_upload_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """第6条: add a document to the electronic archive (type by content, size-limited — in the service)."""
    user = actor_of(request)
    enrollment = enrollment_get(viewer=user, person_id=person_id)  # out of jurisdiction: 404, as everywhere
    # The school keeps the archive (第6条): anyone else who may see the record is refused before the form is read.
    if not school_registrar_units(user):
        raise Forbidden()
    form = ArchiveForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read(settings.ARCHIVE_MAX_BYTES + 1)
        try:
            archive_attach(
                actor=user,
                enrollment=enrollment,
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                data=data,
            )
        except (NotFound, Forbidden):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        else:
            messages.success(request, _("已上传档案材料"))
            return redirect(reverse("students:detail", args=[enrollment.person_id]) + "#archive")
    return _render_detail(request, enrollment, archive_form=form, status=400)


@login_required
@require_POST
@ui_errors
def archive_complete_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    user = actor_of(request)
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    try:
        archive_complete(actor=user, enrollment=enrollment)
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("学籍档案已标记为建立完成"))
    return redirect(reverse("students:detail", args=[enrollment.person_id]) + "#archive")


@login_required
@ui_errors
def archive_file_view(request: HttpRequest, person_id: Any, doc_id: Any) -> FileResponse:
    """Download one archive document (jurisdiction-checked; the file name carries no personal data).

    Each download is an audited read (ARCHIVE_DOWNLOADED).
    """
    user = actor_of(request)
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    doc = archive_open(actor=user, enrollment=enrollment, doc_id=doc_id)
    ext = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(doc.content_type, "bin")
    response = FileResponse(
        doc.file.open("rb"),
        as_attachment=True,
        filename=f"archive-{doc.kind}-{doc.pk}.{ext}",
        content_type=doc.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------------------


def _registrar_schools(user: Actor) -> list[School]:
    """Schools where the user registers students: their own, plus the teaching points of a central school
    they keep the records of (第22条)."""
    units = school_registrar_units(user)
    if not units:
        return []
    schools = []
    for unit in units:
        try:
            schools.append(school_get(viewer=user, school_id=unit.pk))
        except NotFound:
            continue
    ids = {s.pk for s in schools}
    schools += [
        t for t in school_list(viewer=user, school_type="teaching_point") if t.central_school_id in ids
    ]
    return [s for s in schools if s.state == "active"]


def _extra_for(school: School) -> tuple[int | None, list[dict[str, Any]], Any]:
    version, defs = extra_fields_for(school.province_code)
    _v, validator = extra_validator_for(school.province_code)
    return version, [d.to_dict() for d in defs], validator


@login_required
@ui_errors
def register_view(request: HttpRequest) -> HttpResponse:
    """新生注册 (第6、8、9条) — one student through the same validation as imports and the API."""
    user = actor_of(request)
    schools = _registrar_schools(user)
    if not schools:
        if any(g.role == Role.SCHOOL_REGISTRAR for g in all_grants(user)) and not data_grants(user):
            return render(request, "students/register.html", {"not_filed": NOT_FILED.message})
        raise NotFound()
    school = schools[0]
    if request.method == "POST" and len(schools) > 1:
        chosen = request.POST.get("school", "")
        school = next((s for s in schools if str(s.pk) == chosen), school)
    version, extra_specs, validator = _extra_for(school)
    stages = sorted({st for s in schools for st in s.stages})
    form = RegistrationForm(
        request.POST if request.method == "POST" else None,
        stages=stages,
        extra_specs=extra_specs,
        schools=schools,
    )
    if request.method == "POST":
        try:
            registration = clean_registration(
                form.raw_person(),
                form.raw_enrollment(),
                form.raw_guardians(),
                school_stages=school.stages,
                today=timezone.localdate(),
                extra_validator=validator,
                raw_extra=form.raw_extra(),
                grade_age=grade_age_rules_for(school.province_code, timezone.localdate()),
            )
            [result] = register_students(
                actor=user,
                school=school,
                registrations=[registration],
                extra_version=version,
                disclose_holder=True,  # one student: the school learns where to start the transfer
            )
        except RegistrationInvalid as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        except (NotFound, Forbidden, RateLimited):
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        else:
            request.session[REGISTERED_FLASH] = {
                "person": str(result.person_id),
                "number": result.student_number,
                "suspected": result.suspected_duplicate,
            }
            return redirect("students:detail", result.person_id)
    return render(
        request,
        "students/register.html",
        {"form": form, "school": school, "schools": schools},
        status=400 if form.errors else 200,
    )


# --------------------------------------------------------------------------------------------------------
# Problem records (第9条)
# --------------------------------------------------------------------------------------------------------


@login_required
@ui_errors
def problems_view(request: HttpRequest) -> HttpResponse:
    """The problem records now live in one queue, the checks worklist (issue 10 §2): this address redirects."""
    user = actor_of(request)
    require_student_roles(user)
    return redirect("checks:queue")


@login_required
@require_POST
@ui_errors
def problem_resolve_view(request: HttpRequest, problem_id: Any) -> HttpResponse:
    """Resolve from the former page (kept for bookmarked forms): the same service as the checks worklist."""
    user = actor_of(request)
    problem = problem_get(viewer=user, problem_id=problem_id)
    try:
        problem_resolve(
            actor=user,
            problem=problem,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
        )
    except (NotFound, Forbidden):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("问题学籍已处理"))
    return redirect("checks:queue")
