"""Writes of province field sets: define → (revise while draft) → file with the ministry → activate.

第3条: 非基础学籍信息由各省级教育行政部门统一确定并报国务院教育行政部门备案.

* Only a filed, trained ``dept_registrar`` holding a grant at the province-level education department of that
  province may write (第3条 names the province; 第5条 省级统筹). A province outside the actor's jurisdiction
  is "not found"; a visible province the actor may not define for is "forbidden".
* A version is a draft until its ministry filing is recorded; from then on it is immutable — a change is a new
  version (max + 1). Recorded filings make the field set that students carry traceable to what was filed.
* Only a filed version can be activated. 第3条 makes filing with the ministry part of how a province
  "determines" its non-basic fields, so an unfiled draft is not yet a valid definition and must not bind
  schools. Activation deactivates the previous active version in the same transaction (the database allows
  one active version per province).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from xueji.accounts.enums import STUDENT_DATA_ROLES
from xueji.accounts.jurisdiction import NOT_FILED, data_grants, roles
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.bulk import insert_rows
from xueji.core.errors import ApplicationError, Conflict, Forbidden, NotFound
from xueji.core.ids import uuid7
from xueji.regions.models import OrgUnit

from .extra_fields import validate_definition
from .models import ExtraFieldSet, ProvinceRuleSet, RuleConfirmation
from .queries import can_view_province, definable_provinces
from .rules import CHECKS, GRADE_AGE, RulesInvalid, validate_rules

SUBJECT = "extra_field_set"
RULE_SET_SUBJECT = "province_rule_set"
MAX_REFERENCE = 60
MAX_RULE_REFERENCE = 80

NOT_PROVINCE_REGISTRAR = "not_province_registrar"


def _province_authority(actor: Actor, province_code: str) -> OrgUnit:
    """The province department on whose behalf ``actor`` writes the field set of ``province_code``.

    第3条 + 第5条: a filed ``dept_registrar`` of the province-level department. Raises ``registrar_not_filed``
    for a registrar not yet filed/trained (第22条), :class:`NotFound` when the province lies outside the
    actor's jurisdiction, :class:`Forbidden` (``not_province_registrar``) otherwise.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(
            NOT_PROVINCE_REGISTRAR, "本省学籍规则和非基础学籍信息须由省级教育行政部门学籍管理员确定"
        )
    if not data_grants(actor):
        if roles(actor) & STUDENT_DATA_ROLES:
            raise NOT_FILED
        raise NotFound()
    if not can_view_province(actor, province_code):
        raise NotFound()
    for unit in definable_provinces(actor):
        if unit.province_code == province_code:
            return unit
    raise Forbidden(
        NOT_PROVINCE_REGISTRAR,
        "只有省级教育行政部门学籍管理员可以确定、备案本省学籍规则和非基础学籍信息（第三、五条）",
    )


def _locked(field_set: ExtraFieldSet) -> ExtraFieldSet:
    return ExtraFieldSet.objects.select_for_update().get(pk=field_set.pk)


def _summary(field_set: ExtraFieldSet) -> dict[str, Any]:
    return {
        "version": field_set.version,
        "keys": [f["key"] for f in field_set.fields],
        "is_active": field_set.is_active,
        "filed_on": field_set.filed_on.isoformat() if field_set.filed_on else None,
        "filing_reference": field_set.filing_reference,
    }


def extra_fields_define(*, actor: Actor, province_code: str, fields: Any) -> ExtraFieldSet:
    """Define a new version (max + 1) of the province's non-basic fields, as an inactive, unfiled draft.

    第3条: 非基础学籍信息由各省级教育行政部门统一确定. Raises ``registrar_not_filed`` / NotFound / Forbidden
    (see :func:`_province_authority`), ``invalid_extra_fields`` (per-definition messages in ``fields``) or
    ``version_conflict`` when a concurrent definition took the same number. Writes one row and one
    ``EXTRA_FIELDS_DEFINED`` audit event.
    """
    with transaction.atomic():
        unit = _province_authority(actor, province_code)
        defs = validate_definition(fields)
        last = (
            ExtraFieldSet.objects.filter(province_code=province_code)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        try:
            with transaction.atomic():
                field_set = ExtraFieldSet.objects.create(
                    province_code=province_code,
                    version=(last or 0) + 1,
                    fields=[d.to_dict() for d in defs],
                    created_by=actor,
                )
        except IntegrityError as exc:
            raise Conflict("version_conflict", "另一位管理员同时定义了新版本，请刷新后重试") from exc
        record(
            event_type=EventType.EXTRA_FIELDS_DEFINED,
            actor=actor,
            subject_type=SUBJECT,
            subject_id=field_set.pk,
            org_unit_id=unit.pk,
            province_code=province_code,
            summary=f"定义{unit.name}非基础学籍信息第 {field_set.version} 版（{len(defs)} 个字段）",
            after=_summary(field_set),
        )
    return field_set


def extra_fields_revise(*, actor: Actor, field_set: ExtraFieldSet, fields: Any) -> ExtraFieldSet:
    """Replace the definition of a draft version. A filed version is immutable (第3条: what was filed with the
    ministry must stay what it was) — raises ``version_filed``; define a new version instead."""
    with transaction.atomic():
        unit = _province_authority(actor, field_set.province_code)
        current = _locked(field_set)
        if current.filed_on is not None:
            raise Conflict("version_filed", "该版本已报部备案，不能修改；如需调整请定义新版本（第三条）")
        defs = validate_definition(fields)
        before = _summary(current)
        current.fields = [d.to_dict() for d in defs]
        current.save(update_fields=["fields"])
        record(
            event_type=EventType.EXTRA_FIELDS_DEFINED,
            actor=actor,
            subject_type=SUBJECT,
            subject_id=current.pk,
            org_unit_id=unit.pk,
            province_code=current.province_code,
            summary=f"修改{unit.name}非基础学籍信息第 {current.version} 版草稿（{len(defs)} 个字段）",
            before=before,
            after=_summary(current),
        )
    return current


def extra_fields_file(
    *, actor: Actor, field_set: ExtraFieldSet, filed_on: date | None, filing_reference: str
) -> ExtraFieldSet:
    """Record that this version was filed with the ministry (第3条: 报国务院教育行政部门备案).

    ``filed_on`` is required and not in the future; ``filing_reference`` (备案文号) is required, at most 60
    characters. A version is filed once; from then on it is immutable. Raises ``already_filed`` (409) on a
    second filing. Writes one ``EXTRA_FIELDS_FILED`` audit event.
    """
    reference = (filing_reference or "").strip()
    with transaction.atomic():
        unit = _province_authority(actor, field_set.province_code)
        current = _locked(field_set)
        if current.filed_on is not None:
            raise Conflict(
                "already_filed", f"第 {current.version} 版已于 {current.filed_on:%Y-%m-%d} 报部备案"
            )
        errors: dict[str, str] = {}
        if not isinstance(filed_on, date):
            errors["filed_on"] = "报部备案日期为必填项"
        elif filed_on > timezone.localdate():
            errors["filed_on"] = "报部备案日期不能晚于今天"
        if not reference:
            errors["filing_reference"] = "备案文号为必填项"
        elif len(reference) > MAX_REFERENCE:
            errors["filing_reference"] = f"备案文号不能超过 {MAX_REFERENCE} 个字符"
        if errors:
            raise ApplicationError("invalid_filing", "备案信息有误：" + "；".join(errors.values()), errors)
        before = _summary(current)
        current.filed_on = filed_on
        current.filing_reference = reference
        current.save(update_fields=["filed_on", "filing_reference"])
        record(
            event_type=EventType.EXTRA_FIELDS_FILED,
            actor=actor,
            subject_type=SUBJECT,
            subject_id=current.pk,
            org_unit_id=unit.pk,
            province_code=current.province_code,
            summary=f"{unit.name}非基础学籍信息第 {current.version} 版报部备案（{reference}）",
            before=before,
            after=_summary(current),
        )
    return current


def extra_fields_activate(*, actor: Actor, field_set: ExtraFieldSet) -> ExtraFieldSet:
    """Make this version the one the province's students are validated against.

    Only a filed version may be activated (第3条: non-basic information is determined by the province *and
    filed with the ministry*; an unfiled draft is not yet binding) — raises ``not_filed`` (409). Raises
    ``already_active`` when it is active. The previous active version is deactivated in the same
    transaction. Audit: ``EXTRA_FIELDS_ACTIVATED``.
    """
    with transaction.atomic():
        unit = _province_authority(actor, field_set.province_code)
        siblings = list(
            ExtraFieldSet.objects.select_for_update()
            .filter(province_code=field_set.province_code)
            .order_by("pk")
        )
        current = next((s for s in siblings if s.pk == field_set.pk), None)
        if current is None:
            raise NotFound()
        if current.filed_on is None:
            raise Conflict(
                "not_filed",
                f"第 {current.version} 版尚未报国务院教育行政部门备案，不能启用（第三条）",
            )
        if current.is_active:
            raise Conflict("already_active", f"第 {current.version} 版已是生效版本")
        previous = next((s for s in siblings if s.is_active), None)
        try:
            with transaction.atomic():
                if previous is not None:
                    previous.is_active = False
                    previous.save(update_fields=["is_active"])
                current.is_active = True
                current.save(update_fields=["is_active"])
        except IntegrityError as exc:
            raise Conflict("activation_conflict", "另一位管理员同时启用了其他版本，请刷新后重试") from exc
        replaced = f"（停用第 {previous.version} 版）" if previous else ""
        record(
            event_type=EventType.EXTRA_FIELDS_ACTIVATED,
            actor=actor,
            subject_type=SUBJECT,
            subject_id=current.pk,
            org_unit_id=unit.pk,
            province_code=current.province_code,
            summary=f"启用{unit.name}非基础学籍信息第 {current.version} 版{replaced}",
            before={"active_version": previous.version if previous else None},
            after={"action": "activated", "active_version": current.version},
        )
    return current


@dataclass(frozen=True)
class Confirmation:
    """One confirmed exception to a soft rule, as registration hands it over (see :class:`RuleConfirmation`)."""

    person_id: UUID
    enrollment_id: UUID
    province_code: str
    scope_path: str
    rule: str
    rule_version: str
    detail: str
    reason: str


def rule_confirmations_add(*, actor: Actor | None, items: Sequence[Confirmation], now: datetime) -> None:
    """Keep the registrar's confirmations and their reasons (issue 8 item 4; 第9条, 第11条), set-based, in the
    caller's transaction (``register_students``: the registration and its confirmations are written together
    or not at all). The registration's own audit event names the confirmed rules; the reasons stay here."""
    if not items:
        return
    rows = [
        {
            "id": uuid7(),
            "rule": item.rule,
            "rule_version": item.rule_version[:40],
            "person_id": item.person_id,
            "enrollment_id": item.enrollment_id,
            "province_code": item.province_code,
            "scope_path": item.scope_path,
            "detail": item.detail[:200],
            "reason": item.reason[:200],
            "confirmed_by_id": getattr(actor, "pk", None),
            "confirmed_at": now,
        }
        for item in items
    ]
    with transaction.atomic():
        insert_rows(RuleConfirmation, rows, list(rows[0]))


def grade_age_file(
    *,
    actor: Actor,
    province_code: str,
    rules: dict[str, Any],
    effective_from: date | None,
    filed_on: date | None,
    filing_reference: str,
) -> ProvinceRuleSet:
    """A new version of the province's rule set with its registration age rules (``school_entry_age``,
    ``grade_age``; issue 8 item 4, 第11条), filed with the ministry, binding from ``effective_from``
    (:func:`rule_section_file`)."""
    own = {k: rules[k] for k in ("school_entry_age", GRADE_AGE) if k in rules}
    return rule_section_file(
        actor=actor,
        province_code=province_code,
        section=own,
        replaces=("school_entry_age", GRADE_AGE),
        label="入学年龄与年级",
        effective_from=effective_from,
        filed_on=filed_on,
        filing_reference=filing_reference,
    )


def check_rules_file(
    *,
    actor: Actor,
    province_code: str,
    checks: dict[str, Any],
    effective_from: date | None,
    filed_on: date | None,
    filing_reference: str,
) -> ProvinceRuleSet:
    """A new version of the province's rule set whose ``checks`` key is ``checks`` (thresholds, owners, deadlines
    of the problem-record rules, overriding the national defaults per rule and key; 第5条 实施细则, filed with
    the ministry, binding from ``effective_from``). The new version copies every other key of the newest version
    (versions are never edited). Raises ``invalid_rules`` with a Chinese message per key
    (``checks.age_grade.margin_years``), ``invalid_filing`` for the dates and the reference, ``version_conflict``.
    One ``RULES_FILED`` audit event (the rules changed, no personal data)."""
    return rule_section_file(
        actor=actor,
        province_code=province_code,
        section={CHECKS: checks},
        replaces=(CHECKS,),
        label="问题学籍检查",
        effective_from=effective_from,
        filed_on=filed_on,
        filing_reference=filing_reference,
        audit_after={"counts": {rule: sorted(values) for rule, values in checks.items()}},
    )


def rule_section_file(
    *,
    actor: Actor,
    province_code: str,
    section: dict[str, Any],
    replaces: Sequence[str],
    label: str,
    effective_from: date | None,
    filed_on: date | None,
    filing_reference: str,
    audit_after: dict[str, Any] | None = None,
) -> ProvinceRuleSet:
    """A new version of the province's rule set in which the keys ``replaces`` are replaced by ``section``,
    filed with the ministry, binding from ``effective_from`` — the one way every part of the province's rules
    (age for grade, problem-record checks …) is filed.

    第5条: the province department makes its 实施细则 and files them; only its filed ``dept_registrar`` may
    (:func:`_province_authority`: NotFound outside the actor's jurisdiction, Forbidden otherwise). The new
    version copies every other key of the newest version (approval chains, windows …); versions are never
    edited (``policy_for`` reads the newest filed one in force). Raises ``invalid_rules`` with a Chinese message
    per key, ``invalid_filing`` for the dates and the reference, or ``version_conflict``. One ``RULES_FILED``
    audit event (the keys, no personal data).
    """
    reference = (filing_reference or "").strip()
    with transaction.atomic():
        unit = _province_authority(actor, province_code)
        try:
            validate_rules(section)
        except RulesInvalid as exc:
            raise ApplicationError(
                "invalid_rules", "规则有误：" + "；".join(exc.fields.values()), exc.fields
            ) from exc
        errors: dict[str, str] = {}
        if not isinstance(filed_on, date):
            errors["filed_on"] = "报部备案日期为必填项"
        elif filed_on > timezone.localdate():
            errors["filed_on"] = "报部备案日期不能晚于今天"
        if not isinstance(effective_from, date):
            errors["effective_from"] = "生效日期为必填项"
        elif isinstance(filed_on, date) and effective_from < filed_on:
            errors["effective_from"] = "生效日期不能早于报部备案日期"
        if not reference:
            errors["filing_reference"] = "备案文号为必填项"
        elif len(reference) > MAX_RULE_REFERENCE:
            errors["filing_reference"] = f"备案文号不能超过 {MAX_RULE_REFERENCE} 个字符"
        if errors:
            raise ApplicationError("invalid_filing", "备案信息有误：" + "；".join(errors.values()), errors)
        assert isinstance(effective_from, date) and isinstance(filed_on, date)  # checked above
        latest = (
            ProvinceRuleSet.objects.select_for_update()
            .filter(province_code=province_code)
            .order_by("-version")
            .first()
        )
        if latest is not None and effective_from < latest.effective_from:
            # The version in force is the newest effective by a day: an earlier date would never take effect.
            raise ApplicationError(
                "invalid_filing",
                f"生效日期不能早于现行第 {latest.version} 版的生效日期（{latest.effective_from.isoformat()}）",
                {"effective_from": f"生效日期不能早于 {latest.effective_from.isoformat()}"},
            )
        base = {k: v for k, v in (latest.rules if latest is not None else {}).items() if k not in replaces}
        try:
            with transaction.atomic():
                rule_set = ProvinceRuleSet.objects.create(
                    province_code=province_code,
                    version=(latest.version if latest else 0) + 1,
                    effective_from=effective_from,
                    rules={**base, **section},
                    filed_on=filed_on,
                    filing_reference=reference,
                    created_by=actor,
                )
        except IntegrityError as exc:
            raise Conflict("version_conflict", "另一位管理员同时备案了新版本，请刷新后重试") from exc
        record(
            event_type=EventType.RULES_FILED,
            actor=actor,
            subject_type=RULE_SET_SUBJECT,
            subject_id=rule_set.pk,
            org_unit_id=unit.pk,
            province_code=province_code,
            summary=f"{unit.name}学籍规则第 {rule_set.version} 版报部备案（{reference}），"
            f"{effective_from:%Y-%m-%d} 起生效：{label}",
            after={
                "version": rule_set.version,
                "keys": sorted(section),
                "filed_on": filed_on.isoformat(),
                "filing_reference": reference,
                **(audit_after or {}),
            },
        )
    return rule_set
