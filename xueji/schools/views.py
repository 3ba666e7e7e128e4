"""School pages: list with filters, detail with grade × class counts, and the new-school form (第5条)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import all_grants, data_grants
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, NotFound
from xueji.core.web import paginate, ui_errors, url_or_none
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.queries import org_units_visible
from xueji.regions.services import department_for

from .enums import Listing, SchoolState, SchoolType, Stage
from .forms import SchoolForm
from .grades import grade_label
from .models import School
from .queries import class_counts, school_get, school_list, with_active_counts
from .services import school_create


def creator_units(user: Actor) -> list[OrgUnit]:
    """Units under which the user may create schools: filed department registrars at county level or above
    (第5条: the county registers its schools; a city/province for directly administered ones) and system
    administrators (who maintain the school registry)."""
    units = [
        g.org_unit
        for g in data_grants(user)
        if g.role == Role.DEPT_REGISTRAR and g.org_unit.level != OrgLevel.SCHOOL
    ]
    units += [g.org_unit for g in all_grants(user) if g.role == Role.SYSTEM_ADMIN]
    return units


@login_required
@ui_errors
def school_list_view(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    q = request.GET.get("q", "").strip()
    school_type = request.GET.get("type", "")
    state = request.GET.get("state", "")
    schools = school_list(
        viewer=user,
        q=q,
        school_type=school_type if school_type in SchoolType.values else "",
        state=state if state in SchoolState.values else "",
    )
    page = paginate(request, schools)
    page.object_list = with_active_counts(page.object_list)
    return render(
        request,
        "schools/list.html",
        {
            "page": page,
            "q": q,
            "type": school_type,
            "state": state,
            "types": SchoolType.choices,
            "states": SchoolState.choices,
            "can_create": bool(creator_units(user)),
        },
    )


def grade_class_counts(viewer: Actor, school: School) -> list[dict[str, Any]]:
    """Active students of a school by grade and class, as the viewer may see them."""
    grades: dict[int, list[tuple[str, int]]] = {}
    for grade, class_name, n in class_counts(viewer=viewer, school=school):
        grades.setdefault(grade, []).append((class_name, n))
    return [
        {
            "grade": g,
            "label": grade_label(g),
            "classes": classes,
            "total": sum(n for _c, n in classes),
        }
        for g, classes in grades.items()
    ]


@login_required
@ui_errors
def school_detail(request: HttpRequest, school_id: int) -> HttpResponse:
    user = actor_of(request)
    school = school_get(viewer=user, school_id=school_id)
    grades = grade_class_counts(user, school)
    return render(
        request,
        "schools/detail.html",
        {
            "school": school,
            "stages": [Stage(s).label for s in school.stages if s in Stage.values],
            "teaching_points": list(school.teaching_points.all()),
            "grades": grades,
            "total": sum(g["total"] for g in grades),
            "roster_url": url_or_none("imports:export_roster", school.pk),
        },
    )


@login_required
@ui_errors
def school_new(request: HttpRequest) -> HttpResponse:
    """Create a school (第5条) — for department registrars at county level or above and system admins,
    only inside their own part of the tree."""
    user = actor_of(request)
    units = creator_units(user)
    if not units:
        raise NotFound()
    form = SchoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            school = _create(user, units, data)
        except ApplicationError as exc:
            form.add_service_errors(exc.fields, exc.message, exc.code)
        else:
            messages.success(
                request,
                _("已创建学校 %(name)s（%(code)s）") % {"name": school.name, "code": school.school_code},
            )
            return redirect("schools:detail", school.pk)
    counties = list(org_units_visible(user).filter(level=OrgLevel.COUNTY).order_by("code")[:400])
    counties = [c for c in counties if any(c.path.startswith(u.path) for u in units)]
    return render(
        request,
        "schools/new.html",
        {"form": form, "counties": counties},
        status=400 if request.method == "POST" else 200,
    )


def _create(user: Actor, units: list[OrgUnit], data: dict[str, Any]) -> Any:
    county = data["county_code"].strip()
    listing = data["listing"]
    if listing == Listing.MAINLAND:
        try:
            dept = department_for(county) if county.isdigit() and len(county) == 6 else None
        except ApplicationError:
            dept = None
        if dept is None or not any(dept.path.startswith(u.path) for u in units):
            raise ApplicationError(
                "county_out_of_scope",
                "所在县区不在您的管辖范围内",
                {"county_code": "所在县区不在您的管辖范围内"},
            )
    elif not any(u.level == OrgLevel.NATIONAL for u in units):
        raise ApplicationError(
            "listing_national",
            "单列学校由教育部登记（第二十七条）",
            {"listing": "单列学校由教育部登记（第二十七条）"},
        )
    central = None
    if data["central_school_code"].strip():
        try:
            central = school_get(viewer=user, school_code=data["central_school_code"].strip())
        except NotFound:
            raise ApplicationError(
                "central_school_unknown",
                "中心校不存在或不在您的管辖范围内",
                {"central_school_code": "中心校不存在或不在您的管辖范围内"},
            ) from None
    return school_create(
        actor=user,
        name=data["name"].strip(),
        school_code=data["school_code"].strip(),
        school_type=data["school_type"],
        county_code=county,
        operator=data["operator"],
        stages=data["stages"] or None,
        central_school=central,
        listing=listing,
        address=data["address"].strip(),
    )
