"""Reads of province field sets (第3条), always scoped to the viewer's jurisdiction (第5条).

Who sees what: a filed registrar (any student-data role) sees the field sets of every province in which
they hold a grant — a school or county registrar needs to know which non-basic fields their students carry —
and a grant at the ministry sees every province (第5条: 国务院教育行政部门负责各省非基础学籍信息的互联互通).
Field sets of other provinces are "not found", never "forbidden".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.db.models import QuerySet

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit

from .extra_fields import FieldDef, load_definition, values_validator
from .models import ExtraFieldSet, ProvinceRuleSet, RuleConfirmation
from .rules import GradeAgeRules, RulesInvalid

logger = logging.getLogger(__name__)

Validator = Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, str]]]

# 第3条: with no active provincial field set, the national default applies — no non-basic fields at all.
NATIONAL_DEFAULT: tuple[FieldDef, ...] = ()


def _reach(viewer: Actor) -> tuple[bool, set[str]]:
    """(sees every province, the provinces the viewer holds a filed student-data grant in)."""
    grants = data_grants(viewer)
    national = any(g.org_unit.level == OrgLevel.NATIONAL for g in grants)
    return national, {g.org_unit.province_code for g in grants}


def sees_all_provinces(viewer: Actor) -> bool:
    """True for a grant at the ministry (第5条: 国家负责各省非基础学籍信息的互联互通)."""
    return _reach(viewer)[0]


def can_view_province(viewer: Actor, province_code: str) -> bool:
    national, provinces = _reach(viewer)
    return national or province_code in provinces


def viewer_provinces(viewer: Actor) -> list[OrgUnit]:
    """Province departments whose field sets the viewer may read (for headings and filters)."""
    national, provinces = _reach(viewer)
    units = OrgUnit.objects.filter(level=OrgLevel.PROVINCE, is_active=True).order_by("province_code")
    return list(units if national else units.filter(province_code__in=provinces))


def definable_provinces(viewer: Actor) -> list[OrgUnit]:
    """Province departments where the viewer may define, file and activate field sets.

    第3条: 非基础学籍信息由各省级教育行政部门统一确定 — only a filed, trained registrar of the education
    department (``dept_registrar``) holding the grant at the province-level department itself.
    """
    units = {
        g.org_unit.pk: g.org_unit
        for g in data_grants(viewer)
        if g.role == Role.DEPT_REGISTRAR and g.org_unit.level == OrgLevel.PROVINCE
    }
    return sorted(units.values(), key=lambda u: u.province_code)


def field_sets_for(viewer: Actor) -> QuerySet[ExtraFieldSet]:
    """Every version the viewer may read, newest first within each province."""
    national, provinces = _reach(viewer)
    qs = ExtraFieldSet.objects.select_related("created_by").order_by("province_code", "-version")
    return qs if national else qs.filter(province_code__in=provinces)


def field_set_get(*, viewer: Actor, pk: int) -> ExtraFieldSet:
    """One version, or :class:`NotFound` when it does not exist or lies outside the viewer's provinces."""
    field_set = field_sets_for(viewer).filter(pk=pk).first()
    if field_set is None:
        raise NotFound()
    return field_set


def field_defs(field_set: ExtraFieldSet | None) -> list[FieldDef]:
    return list(NATIONAL_DEFAULT) if field_set is None else load_definition(field_set.fields)


def active_field_set(province_code: str) -> ExtraFieldSet | None:
    """The province's active version (at most one: a conditional unique constraint), or ``None``."""
    return ExtraFieldSet.objects.filter(province_code=province_code, is_active=True).first()


def extra_fields_for(province_code: str) -> tuple[int | None, list[FieldDef]]:
    """The definitions students of this province carry now: ``(version, defs)``; ``(None, [])`` is the
    national default (no non-basic fields)."""
    field_set = active_field_set(province_code)
    return (field_set.version if field_set else None), field_defs(field_set)


def extra_validator_for(province_code: str) -> tuple[int | None, Validator]:
    """``(version, validator)`` for ``clean_registration(extra_validator=…)`` and the importers (第3条).

    The validator checks a student's values against the province's active version; with none active it is
    the national default, which accepts no keys at all (any key is reported as unknown) and returns ``{}``.
    Pass ``version`` on to ``register_students(extra_version=…)`` so the stored values name their version.
    """
    version, defs = extra_fields_for(province_code)
    return version, values_validator(defs)


def state_of(field_set: ExtraFieldSet) -> str:
    """``active`` | ``filed`` | ``draft`` (drafts are editable; filed versions are immutable)."""
    if field_set.is_active:
        return "active"
    return "filed" if field_set.filed_on is not None else "draft"


def rule_set_in_force(province_code: str, on: date) -> ProvinceRuleSet | None:
    """The province's rule set in force on ``on``: the newest filed version effective by then (第5条: the
    province's 实施细则, filed with the ministry), or ``None`` — the national defaults apply. The one reading
    of "which version binds", for the change workflow (:func:`xueji.changes.policy.policy_for`) and for
    registration (:func:`grade_age_rules_for`)."""
    return (
        ProvinceRuleSet.objects.filter(
            province_code=province_code, effective_from__lte=on, filed_on__isnull=False
        )
        .order_by("-effective_from", "-version")
        .first()
    )


def grade_age_rules_for(province_code: str, on: date) -> GradeAgeRules:
    """The age-for-grade rule binding a registration in ``province_code`` on ``on`` (issue 8 item 4; 第11条):
    the national defaults overridden by the province's rule set in force. Pass it to
    ``clean_registration(grade_age=…)`` — the form, the API and the import all do."""
    rules = rule_set_in_force(province_code, on)
    if rules is None:
        return GradeAgeRules.from_rules(None)
    try:
        return GradeAgeRules.from_rules(rules.rules, version=f"{province_code}-v{rules.version}")
    except RulesInvalid:
        # Stored before rule sets were validated: registration must not stop — the national rule applies.
        logger.exception("province %s rule set v%s: invalid grade_age rule", province_code, rules.version)
        return GradeAgeRules.from_rules(None)


def rule_sets_for(viewer: Actor, province_code: str) -> QuerySet[ProvinceRuleSet]:
    """The rule set versions of one province the viewer may read, newest first (empty outside its reach)."""
    if not can_view_province(viewer, province_code):
        return ProvinceRuleSet.objects.none()
    return ProvinceRuleSet.objects.filter(province_code=province_code).order_by("-version")


def rule_confirmations_for(enrollment_id: Any) -> list[RuleConfirmation]:
    """The confirmations a registrar gave for this enrollment (e.g. age for grade, issue 8 item 4), oldest
    first — shown on the record to whoever may see it (the caller has checked that)."""
    return list(RuleConfirmation.objects.filter(enrollment_id=enrollment_id).order_by("confirmed_at"))
