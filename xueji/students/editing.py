"""The school's everyday edits of a record (issue 8 item 2; 第7条: the school keeps its records current).

- 修改学生信息: ordinary fields, the province's non-basic fields (第3条) and the class, pre-filled, one
  transaction; every change is kept in the record's history with its value before and after.
- 家庭成员: edit or remove one (at least one guardian stays).
- 调班: several students of the list into one class at once (all or nothing), or one from its record page.

Key fields (姓名、证件、性别、出生日期、学籍号) are not editable here: they change only through the key-data
change (第13条). Only the school's own filed registrar edits an active record; anyone else gets the 404/403 of
the services (out of scope = 404, and nothing is written).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_registrar_for_school, school_registrar_units
from xueji.core.errors import ApplicationError, Forbidden, NotFound
from xueji.core.masking import mask_student_number
from xueji.core.ratelimit import RateLimited
from xueji.core.web import ui_errors
from xueji.policies.queries import extra_fields_for

from .edit_forms import ClassMoveForm, GuardianEditForm, StudentEditForm
from .models import Enrollment, Guardian
from .queries import enrollment_get, enrollments_visible
from .records import CLASS_MOVE_MAX, class_assign, guardian_remove, guardian_update, student_edit

PASS_THROUGH = (NotFound, Forbidden, RateLimited)


def _editable(request: HttpRequest, person_id: Any) -> Enrollment:
    """The record, if the caller may edit it: in scope (else 404), the school's filed registrar (else 403 or
    the not-filed message), active (else the service's refusal on save; the page says so)."""
    user = actor_of(request)
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    require_registrar_for_school(user, enrollment.school)
    if not enrollment.is_active:
        raise NotFound()
    return enrollment


def _record_url(enrollment: Enrollment, anchor: str = "basic") -> str:
    return reverse("students:detail", args=[enrollment.person_id]) + f"#{anchor}"


@login_required
@ui_errors
def student_edit_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """修改学生信息 (第7条): the ordinary and non-basic fields and the class, in one transaction."""
    enrollment = _editable(request, person_id)
    person = enrollment.person
    _version, defs = extra_fields_for(enrollment.province_code)
    form = StudentEditForm(
        request.POST if request.method == "POST" else None,
        person=person,
        enrollment=enrollment,
        extra_specs=[d.to_dict() for d in defs],
    )
    if request.method == "POST":
        try:
            student_edit(
                actor=actor_of(request),
                enrollment=enrollment,
                changes=form.raw_person(),
                extra=form.raw_extra() if defs else None,
                class_name=form.data.get("class_name", ""),
                class_number=form.data.get("class_number", ""),
            )
        except PASS_THROUGH:
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        else:
            messages.success(request, _("已保存修改"))
            return redirect(_record_url(enrollment))
    return render(
        request,
        "students/edit.html",
        {
            "form": form,
            "e": enrollment,
            "person": person,
            "number": mask_student_number(person.student_number),
        },
        status=400 if form.errors else 200,
    )


def _guardian(enrollment: Enrollment, guardian_id: Any) -> Guardian:
    guardian = next((g for g in enrollment.person.guardians.all() if str(g.pk) == str(guardian_id)), None)
    if guardian is None:
        raise NotFound()
    return guardian


@login_required
@ui_errors
def guardian_edit_view(request: HttpRequest, person_id: Any, guardian_id: Any) -> HttpResponse:
    """Edit one family member; the values before and after go to the record history."""
    enrollment = _editable(request, person_id)
    guardian = _guardian(enrollment, guardian_id)
    form = GuardianEditForm(request.POST if request.method == "POST" else None, guardian=guardian)
    if request.method == "POST":
        try:
            guardian_update(
                actor=actor_of(request), enrollment=enrollment, guardian_id=guardian.pk, data=form.raw()
            )
        except PASS_THROUGH:
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        else:
            messages.success(request, _("已保存家庭成员信息"))
            return redirect(_record_url(enrollment, "family"))
    return render(
        request,
        "students/guardian_edit.html",
        {"form": form, "e": enrollment, "person": enrollment.person, "guardian": guardian},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@ui_errors
def guardian_remove_view(request: HttpRequest, person_id: Any, guardian_id: Any) -> HttpResponse:
    enrollment = _editable(request, person_id)
    guardian = _guardian(enrollment, guardian_id)
    try:
        guardian_remove(actor=actor_of(request), enrollment=enrollment, guardian_id=guardian.pk)
    except PASS_THROUGH:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已删除家庭成员"))
    return redirect(_record_url(enrollment, "family"))


def _back(request: HttpRequest) -> str:
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return reverse("students:list")


@login_required
@require_POST
@ui_errors
def class_move_view(request: HttpRequest) -> HttpResponse:
    """调班 in batch: the students selected on the list (``ids`` = person ids) into one class.

    Every id must name an active record the caller sees (else 404 and nothing moves: the bulk path reveals no
    more than opening each record would); the caller must be the registrar of each student's school (403).
    Without a class yet, the page lists the selection and asks for it."""
    user = actor_of(request)
    # Only a school's registrar moves classes: anyone else is refused before anything is read.
    if not school_registrar_units(user):
        raise Forbidden()
    ids = list(dict.fromkeys(request.POST.getlist("ids")))
    if not ids:
        messages.error(request, _("请先勾选学生"))
        return redirect(_back(request))
    if len(ids) > CLASS_MOVE_MAX:
        messages.error(request, _("一次最多调整 %(n)s 名学生的班级") % {"n": CLASS_MOVE_MAX})
        return redirect(_back(request))
    try:
        ids = list(dict.fromkeys(str(uuid.UUID(i)) for i in ids))
    except ValueError as exc:  # a malformed id names no record
        raise NotFound() from exc
    found = list(
        enrollments_visible(user)
        .filter(person_id__in=ids, is_active=True)
        .select_related("person", "school", "school__org")
        .order_by("class_name", "person__name", "pk")
    )
    if len(found) != len(ids):
        raise NotFound()
    form = ClassMoveForm(request.POST if "class_name" in request.POST else None)
    if form.is_bound:
        try:
            moved = class_assign(actor=user, enrollments=found, class_name=form.data.get("class_name", ""))
        except PASS_THROUGH:
            raise
        except ApplicationError as exc:
            form.apply_errors(exc.fields, exc.message, exc.code)
        else:
            messages.success(
                request,
                _("已将 %(moved)s 名学生调入“%(cls)s”（共选 %(n)s 名）")
                % {"moved": moved, "cls": form.data.get("class_name", "").strip(), "n": len(found)},
            )
            return redirect(_back(request))
    rows = [
        {"name": e.person.name, "number": mask_student_number(e.person.student_number), "e": e} for e in found
    ]
    return render(
        request,
        "students/class_move.html",
        {"form": form, "rows": rows, "ids": ids, "next": _back(request)},
        status=400 if form.errors else 200,
    )
