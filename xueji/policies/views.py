"""Pages for province non-basic fields (第3条): versions, the row editor, filing and activation.

Reads go through :mod:`.queries` (scoped: other provinces are 404), writes through :mod:`.services`
(which re-check the province authority). Forbidden → 403, out of jurisdiction → 404.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xueji.accounts.auth import actor_of
from xueji.accounts.enums import STUDENT_DATA_ROLES
from xueji.accounts.jurisdiction import NOT_FILED, data_grants, roles
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Forbidden, NotFound

from .extra_fields import MAX_FIELDS, TYPE_LABELS, DefinitionInvalid
from .forms import PREFIX, CheckRulesForm, FieldSetEditor, FilingForm, GradeAgeForm, new_row
from .models import ExtraFieldSet
from .queries import (
    definable_provinces,
    field_defs,
    field_set_get,
    field_sets_for,
    grade_age_rules_for,
    rule_set_in_force,
    rule_sets_for,
    sees_all_provinces,
    state_of,
    viewer_provinces,
)
from .rules import (
    CHECK_RULE_LABELS,
    CHECK_RULES,
    CHECKS,
    CHECKS_DEFAULT,
    STAGE_LABELS,
    CheckRules,
    GradeAgeRules,
    RulesInvalid,
    rule_key_labels,
)
from .services import (
    check_rules_file,
    extra_fields_activate,
    extra_fields_define,
    extra_fields_file,
    extra_fields_revise,
    grade_age_file,
)

STATE_BADGES = {
    "active": ("ok", "生效中"),
    "filed": ("", "已备案"),
    "draft": ("warn", "草稿"),
}


def _refuse(exc: ApplicationError) -> NoReturn:
    """Out of jurisdiction → 404; wrong role or unfiled registrar → 403; anything else propagates."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message) from exc
    if isinstance(exc, Forbidden) or exc.code == NOT_FILED.code:
        raise PermissionDenied(exc.message) from exc
    raise exc


def _require_reader(user: Actor) -> None:
    if data_grants(user):
        return
    if roles(user) & STUDENT_DATA_ROLES:
        raise PermissionDenied(NOT_FILED.message)
    raise PermissionDenied(_("您的角色无权查看非基础学籍信息字段"))


def _require_definer(user: Actor) -> list:
    units = definable_provinces(user)
    if not units:
        _require_reader(user)
        raise PermissionDenied(_("只有省级教育行政部门学籍管理员可以确定非基础学籍信息（第三条）"))
    return units


def _get(user: Actor, pk: int) -> ExtraFieldSet:
    try:
        return field_set_get(viewer=user, pk=pk)
    except NotFound as exc:
        _refuse(exc)


def _badge(field_set: ExtraFieldSet) -> dict[str, str]:
    state = state_of(field_set)
    css, label = STATE_BADGES[state]
    return {"state": state, "css": css, "label": _(label)}


@login_required
@require_GET
def field_set_list(request: HttpRequest) -> HttpResponse:
    """Versions of the viewer's province(s), newest first, with state badges."""
    user = actor_of(request)
    _require_reader(user)
    provinces = viewer_provinces(user)
    national = sees_all_provinces(user)
    definable = {u.province_code for u in definable_provinces(user)}
    by_province: dict[str, list[dict[str, Any]]] = {}
    for fs in field_sets_for(user):
        by_province.setdefault(fs.province_code, []).append(
            {"obj": fs, "badge": _badge(fs), "count": len(fs.fields)}
        )
    sections = [
        {
            "unit": unit,
            "versions": by_province.get(unit.province_code, []),
            "can_define": unit.province_code in definable,
        }
        for unit in provinces
        if not national or unit.province_code in by_province or unit.province_code in definable
    ]
    return render(request, "policies/list.html", {"sections": sections, "can_define": bool(definable)})


def _render_form(
    request: HttpRequest,
    *,
    editor: FieldSetEditor,
    units: list,
    province_code: str,
    field_set: ExtraFieldSet | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "policies/form.html",
        {
            "editor": editor,
            "units": units,
            "province_code": province_code,
            "field_set": field_set,
            "max_fields": MAX_FIELDS,
        },
        status=status,
    )


def _save(request: HttpRequest, editor: FieldSetEditor, write: Any) -> ExtraFieldSet | None:
    """Run ``write(definitions)``; on a schema error put the messages on the rows and return None."""
    definitions = editor.definitions()
    if definitions is None:
        return None
    try:
        return write(definitions)
    except DefinitionInvalid as exc:
        editor.attach(exc)
    except (NotFound, Forbidden) as exc:
        _refuse(exc)
    except ApplicationError as exc:
        if exc.code == NOT_FILED.code:
            _refuse(exc)
        editor.errors.append(exc.message)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def field_set_new(request: HttpRequest) -> HttpResponse:
    """Define a new version (a draft) with the row editor; ``?from=<id>`` starts from an existing version."""
    user = actor_of(request)
    units = _require_definer(user)
    codes = [u.province_code for u in units]
    if request.method == "GET":
        source = request.GET.get("from", "")
        if source.isdigit():
            editor = FieldSetEditor.from_definitions(field_defs(_get(user, int(source))))
        else:
            editor = FieldSetEditor.blank()
        return _render_form(request, editor=editor, units=units, province_code=codes[0])

    province_code = request.POST.get("province_code") or codes[0]
    editor = FieldSetEditor(request.POST)
    if "add_row" in request.POST:
        editor.add_row()
        return _render_form(request, editor=editor, units=units, province_code=province_code)
    if province_code not in codes:
        editor.definitions()
        editor.errors.append(_("请选择您所在的省份"))
        return _render_form(request, editor=editor, units=units, province_code=codes[0], status=400)
    field_set = _save(
        request,
        editor,
        lambda defs: extra_fields_define(actor=user, province_code=province_code, fields=defs),
    )
    if field_set is None:
        return _render_form(request, editor=editor, units=units, province_code=province_code, status=400)
    messages.success(request, _("已保存第 %(v)s 版草稿。报部备案后方可启用。") % {"v": field_set.version})
    return redirect("policies:detail", pk=field_set.pk)


@login_required
@require_http_methods(["GET", "POST"])
def field_set_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft. Filed versions are immutable (第3条) — the page sends the user to define a new one."""
    actor = actor_of(request)
    field_set = _get(actor, pk)
    units = _require_definer(actor)
    if field_set.province_code not in {u.province_code for u in units}:
        raise PermissionDenied(_("只有省级教育行政部门学籍管理员可以修改本省非基础学籍信息（第三条）"))
    if field_set.filed_on is not None:
        messages.error(request, _("该版本已报部备案，不能修改；如需调整请以此为基础定义新版本。"))
        return redirect("policies:detail", pk=field_set.pk)
    if request.method == "GET":
        editor = FieldSetEditor.from_definitions(field_defs(field_set))
        return _render_form(
            request, editor=editor, units=units, province_code=field_set.province_code, field_set=field_set
        )
    editor = FieldSetEditor(request.POST)
    if "add_row" in request.POST:
        editor.add_row()
        return _render_form(
            request, editor=editor, units=units, province_code=field_set.province_code, field_set=field_set
        )
    saved = _save(
        request,
        editor,
        lambda defs: extra_fields_revise(actor=actor, field_set=field_set, fields=defs),
    )
    if saved is None:
        return _render_form(
            request,
            editor=editor,
            units=units,
            province_code=field_set.province_code,
            field_set=field_set,
            status=400,
        )
    messages.success(request, _("已保存第 %(v)s 版草稿。") % {"v": saved.version})
    return redirect("policies:detail", pk=saved.pk)


@login_required
@require_GET
def field_set_row(request: HttpRequest) -> HttpResponse:
    """htmx: one more editor row, plus the management form's new total (swapped out of band)."""
    user = actor_of(request)
    _require_definer(user)
    raw = request.GET.get(f"{PREFIX}-TOTAL_FORMS", "0")
    index = int(raw) if raw.isdigit() else 0
    if index >= MAX_FIELDS:
        return HttpResponseBadRequest(_("非基础学籍信息字段最多 %(n)s 个") % {"n": MAX_FIELDS})
    return render(
        request,
        "policies/_row_added.html",
        {"form": new_row(index), "index": index, "total": index + 1, "prefix": PREFIX},
    )


def _render_detail(
    request: HttpRequest,
    field_set: ExtraFieldSet,
    *,
    filing: FilingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = actor_of(request)
    can_manage = field_set.province_code in {u.province_code for u in definable_provinces(user)}
    defs = field_defs(field_set)
    return render(
        request,
        "policies/detail.html",
        {
            "fs": field_set,
            "badge": _badge(field_set),
            "defs": defs,
            "type_labels": TYPE_LABELS,
            "can_manage": can_manage,
            "filing": filing or FilingForm(),
            "error": error,
            "province": next(
                (u for u in viewer_provinces(user) if u.province_code == field_set.province_code),
                None,
            ),
        },
        status=status,
    )


@login_required
@require_GET
def field_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    _require_reader(user)
    return _render_detail(request, _get(user, pk))


@login_required
@require_POST
def field_set_file(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the ministry filing (第3条: 报国务院教育行政部门备案)."""
    user = actor_of(request)
    _require_reader(user)
    field_set = _get(user, pk)
    form = FilingForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, field_set, filing=form, status=400)
    try:
        extra_fields_file(
            actor=user,
            field_set=field_set,
            filed_on=form.cleaned_data["filed_on"],
            filing_reference=form.cleaned_data["filing_reference"],
        )
    except (NotFound, Forbidden) as exc:
        _refuse(exc)
    except ApplicationError as exc:
        if exc.code == NOT_FILED.code:
            _refuse(exc)
        form.attach(exc.fields)
        return _render_detail(
            request, field_set, filing=form, error="" if exc.fields else exc.message, status=exc.status
        )
    messages.success(request, _("已登记报部备案。"))
    return redirect("policies:detail", pk=field_set.pk)


@login_required
@require_POST
def field_set_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Activate a filed version; the previous active version is retired in the same transaction."""
    user = actor_of(request)
    _require_reader(user)
    field_set = _get(user, pk)
    try:
        activated = extra_fields_activate(actor=user, field_set=field_set)
    except (NotFound, Forbidden) as exc:
        _refuse(exc)
    except ApplicationError as exc:
        if exc.code == NOT_FILED.code:
            _refuse(exc)
        return _render_detail(request, field_set, error=exc.message, status=exc.status)
    messages.success(
        request, _("第 %(v)s 版已生效，本省学生的非基础学籍信息按此版本校验。") % {"v": activated.version}
    )
    return redirect("policies:detail", pk=activated.pk)


# ---------------------------------------------------------------------------------------------------------
# Registration age rules (issue 8 item 4; 第11条): the rule in force, its versions, a new filed version
# ---------------------------------------------------------------------------------------------------------


def _grade_rows(rules: GradeAgeRules) -> list[dict[str, Any]]:
    """One row per grade: the expected age and the normal / allowed ages on the counting day."""
    rows = []
    for grade in range(1, 13):
        # 1–12 numbering (一年级 … 高三); schools' grade names sit on this app's floor, not below it.
        stage = "primary" if grade <= 6 else "junior" if grade <= 9 else "senior"
        expected = rules.expected_age(grade)
        bands = rules.bands[stage]
        rows.append(
            {
                "grade": grade,
                "stage": STAGE_LABELS[stage],
                "expected": expected,
                "normal": (expected + bands["normal"][0], expected + bands["normal"][1]),
                "allowed": (expected + bands["allowed"][0], expected + bands["allowed"][1]),
            }
        )
    return rows


def _render_grade_age(
    request: HttpRequest, user: Actor, province: Any, form: GradeAgeForm | None, status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    rules = grade_age_rules_for(province.province_code, today)
    can_file = province.province_code in {u.province_code for u in definable_provinces(user)}
    if can_file and form is None:
        form = GradeAgeForm(initial=GradeAgeForm.initial_from(rules))
    return render(
        request,
        "policies/grade_age.html",
        {
            "province": province,
            "provinces": viewer_provinces(user),
            "rules": rules,
            "rows": _grade_rows(rules),
            "versions": [
                {"v": v, "keys": rule_key_labels(v.rules)}
                for v in rule_sets_for(user, province.province_code)
            ],
            # "440000-v3" → 3: the page names the version, not its internal code (issue 8 item 12).
            "version_number": rules.version.rsplit("-v", 1)[-1] if rules.version != "national" else "",
            "form": form if can_file else None,
        },
        status=status,
    )


def _province_for(user: Actor, code: str) -> Any:
    provinces = viewer_provinces(user)
    if not provinces:
        raise Http404
    chosen = next((p for p in provinces if p.province_code == code), None) if code else provinces[0]
    if chosen is None:
        raise Http404  # another province: not found, never forbidden
    return chosen


@login_required
@require_http_methods(["GET", "POST"])
def grade_age(request: HttpRequest) -> HttpResponse:
    """学籍年龄规则: the age-for-grade rule in force in a province (national defaults or its filed version),
    the versions, and — for the province's filed registrar — a new version with its ministry filing."""
    user = actor_of(request)
    _require_reader(user)
    province = _province_for(user, request.GET.get("province", "") or request.POST.get("province", ""))
    if request.method == "GET":
        return _render_grade_age(request, user, province, None)
    form = GradeAgeForm(request.POST)
    return _file_rule_version(
        request,
        user,
        province,
        form,
        file=lambda **filing: grade_age_file(rules=form.rules(), **filing),
        render_page=_render_grade_age,
        done=_("学籍规则第 %(v)s 版已备案，%(day)s 起注册时按新的年龄规则校验。"),
        page="policies:grade_age",
    )


def _file_rule_version(
    request: HttpRequest,
    user: Actor,
    province: Any,
    form: Any,
    *,
    file: Any,
    render_page: Any,
    done: str,
    page: str,
) -> HttpResponse:
    """The POST of a rule page (第5条: the province files its rules with the ministry): the form checked, the new
    version filed by ``file(actor=, province_code=, effective_from=, filed_on=, filing_reference=)``; a refusal
    shows the page again with the errors on their fields (nothing written), out of scope is refused as such."""
    if not form.is_valid():
        return render_page(request, user, province, form, status=400)
    try:
        rule_set = file(
            actor=user,
            province_code=province.province_code,
            effective_from=form.cleaned_data["effective_from"],
            filed_on=form.cleaned_data["filed_on"],
            filing_reference=form.cleaned_data["filing_reference"],
        )
    except (NotFound, Forbidden) as exc:
        _refuse(exc)
    except ApplicationError as exc:
        if exc.code == NOT_FILED.code:
            _refuse(exc)
        form.attach(exc.fields or {"": exc.message})
        return render_page(request, user, province, form, status=exc.status)
    messages.success(request, done % {"v": rule_set.version, "day": f"{rule_set.effective_from:%Y-%m-%d}"})
    return redirect(f"{reverse(page)}?province={province.province_code}")


# ---------------------------------------------------------------------------------------------------------
# Problem-record check rules (issue 10 §2; 第5条 the province files its rules, 第9、25条 the checks): the national
# defaults, the province's overrides, the versions, and a new filed version
# ---------------------------------------------------------------------------------------------------------


def _check_rows(own: dict[str, Any], resolved: CheckRules) -> list[dict[str, Any]]:
    """One row per rule: each setting's national default, the province's override (if any) and the value in
    force."""
    rows = []
    for rule, extra in CHECK_RULES.items():
        settings_ = []
        for key in ("enabled", "owner", "due_working_days", *extra):
            override = own.get(rule, {}).get(key) if isinstance(own.get(rule), dict) else None
            settings_.append(
                {
                    "key": key,
                    "label": CheckRulesForm.KEY_LABELS[key],
                    "default": _check_value(key, CHECKS_DEFAULT[rule][key]),
                    "override": None if override is None else _check_value(key, override),
                    "value": _check_value(key, resolved[rule][key]),
                }
            )
        rows.append({"rule": rule, "label": CHECK_RULE_LABELS[rule], "settings": settings_})
    return rows


def _check_value(key: str, value: Any) -> str:
    if key == "enabled":
        return str(_("启用") if value else _("停用"))
    if key == "owner":
        return str(CheckRulesForm.OWNER_LABELS.get(value, value))
    return str(value)


def _render_check_rules(
    request: HttpRequest, user: Actor, province: Any, form: CheckRulesForm | None, status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    in_force = rule_set_in_force(province.province_code, today)
    own: dict[str, Any] = {}
    resolved = CheckRules.from_rules(None)
    if in_force is not None:
        try:
            resolved = CheckRules.from_rules(
                in_force.rules, version=f"{province.province_code}-v{in_force.version}"
            )
            own = dict((in_force.rules or {}).get(CHECKS) or {})
        except RulesInvalid:  # stored before validation: the checks run on the national rules (as the runner)
            resolved = CheckRules.from_rules(None)
    can_file = province.province_code in {u.province_code for u in definable_provinces(user)}
    if can_file and form is None:
        form = CheckRulesForm(initial=CheckRulesForm.initial_from(resolved))
    return render(
        request,
        "policies/check_rules.html",
        {
            "province": province,
            "provinces": viewer_provinces(user),
            "rows": _check_rows(own, resolved),
            "has_override": bool(own),
            "versions": [
                {"v": v, "keys": rule_key_labels(v.rules)}
                for v in rule_sets_for(user, province.province_code)
            ],
            "version_number": resolved.version.rsplit("-v", 1)[-1] if resolved.version != "national" else "",
            "form": form if can_file else None,
        },
        status=status,
    )


@login_required
@login_required
@require_http_methods(["GET", "POST"])
def check_rules(request: HttpRequest) -> HttpResponse:
    """问题学籍检查规则: for each of the seven checks the national default, the province's override and the value
    in force; the versions; and — for the province department's filed registrar only — a new version filed
    with the ministry through :func:`~.services.check_rules_file` (the API's service and
    validation). Another province is 404; a reader of the province sees the rules without the form."""
    user = actor_of(request)
    _require_reader(user)
    province = _province_for(user, request.GET.get("province", "") or request.POST.get("province", ""))
    if request.method == "GET":
        return _render_check_rules(request, user, province, None)
    form = CheckRulesForm(request.POST)
    return _file_rule_version(
        request,
        user,
        province,
        form,
        file=lambda **filing: check_rules_file(checks=form.checks(), **filing),
        render_page=_render_check_rules,
        done=_("问题学籍检查规则第 %(v)s 版已备案，%(day)s 起自动检查按新规则运行。"),
        page="policies:check_rules",
    )
