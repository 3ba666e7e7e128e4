"""关键数据变更 (第13条; 第8、9条): 姓名, 身份证件类型/号, 性别, 出生日期.

第13条: changes of student information are updated in the national system and confirmed (核准) by the
managing level; evidence goes into the archive. Key data changes with 户籍 evidence (policy
``required_evidence``), the school applies and its department approves (domain.md §3.1). Rules:

- The new values are validated exactly like registration (field specs, 第6条 identity document rules, the
  number must agree with 出生日期 and 性别 — 第9条).
- 第9条 no duplicate records: a new identity document already held by another person is refused with the
  registration's wording — at submission and again, under lock, when the change is applied.
- History is kept: the full previous values in ``request.facts["previous"]``; masked before/after in
  ``request.before["person"]`` and in the audit event of the applied change.
- 学籍号 (第8条, one per person, never changes) — except that a G number IS "G" + the resident ID, so when
  a resident ID is corrected the G number follows it, and only through this flow. The registry has one row per
  person (``StudentNumber.person`` is one-to-one and the number's blind index is the primary key), so the old row is
  deleted and the new one inserted in the same transaction; the old number is kept in the request facts
  (``previous.student_number``) and, masked, in the audit. The freed old number is "G" + a wrong ID: if that
  ID belongs to a real child, it is rightly theirs. J and L numbers never change.
- The national identity registry (``IdentityKey``) follows: the old key is deleted, the new one inserted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Conflict, FieldError
from xueji.core.masking import mask_id_number
from xueji.regions import divisions
from xueji.students.enums import Gender, IdDocumentType
from xueji.students.fields import PERSON_FIELDS
from xueji.students.identity import check_identity_matches, validate_identity
from xueji.students.models import Enrollment, IdentityKey, Person, StudentNumber
from xueji.students.services import ENROLLED_ELSEWHERE
from xueji.students.validation import clean_fields

from ..enums import ChangeKind
from . import register
from .base import Context, KindSpec
from .facts import Code, Day, KindFacts, Text, fact
from .inputs import (
    KindForm,
    area_input,
    date_input,
    select_input,
    text_input,
)

KEY_FIELDS = ("name", "gender", "birth_date", "id_type", "id_number")
_SPECS = tuple(spec for spec in PERSON_FIELDS if spec.key in KEY_FIELDS)
_LABELS = {spec.key: spec.label for spec in _SPECS}


class KeyDataInvalid(ApplicationError):
    def __init__(self, fields: dict[str, str]) -> None:
        first = next(iter(fields.values()))
        super().__init__("key_data_invalid", f"关键数据有误：{first}", fields)


def _current(person: Person) -> dict[str, Any]:
    return {k: getattr(person, k) for k in KEY_FIELDS}


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}
    if out.get("id_number"):
        out["id_number"] = mask_id_number(out["id_number"])
    if out.get("student_number"):
        out["student_number"] = out["student_number"][:1] + "***"
    return out


def duplicate_identity(key: str, person_id: Any) -> ApplicationError | None:
    """第9条: the identity document is held by another person → the registration's refusal."""
    holder = (
        IdentityKey.objects.filter(key=key)
        .exclude(person_id=person_id)
        .values_list("person_id", flat=True)
        .first()
    )
    if holder is None:
        return None
    if Enrollment.objects.filter(person_id=holder, is_active=True).exists():
        # Never which school (issue #6 §3.2): a key-data change must not answer "ID number → school".
        return Conflict("student_already_enrolled", ENROLLED_ELSEWHERE)
    return Conflict("id_duplicate", "该身份证件号已登记为其他学生的学籍，不能重复建立学籍（第九条）")


# --- the page's form --------------------------------------------------------------------------------


class KeyDataChangeForm(KindForm):
    kind = ChangeKind.KEY_DATA_CHANGE
    article = _("第十三条")
    intro = _(
        "姓名、性别、出生日期、身份证件变更须凭户籍证明材料，由学校申请、主管部门核准。只填写需要变更的项目。"
    )
    name = text_input(_("新姓名"), max_length=60, help_text=_("不变更则留空"))
    gender = select_input(_("新性别"), [("", _("不变更")), *Gender.choices], required=False)
    birth_date = date_input(_("新出生日期"), required=False, help_text=_("不变更则留空"))
    id_type = select_input(_("新身份证件类型"), [("", _("不变更")), *IdDocumentType.choices], required=False)
    id_number = text_input(
        _("新身份证件号"), max_length=20, autocomplete="off", spellcheck="false", help_text=_("不变更则留空")
    )
    evidence_ref = text_input(
        _("户籍证明材料"), required=True, help_text=_("名称或编号；请在提交后上传扫描件")
    )
    reason_text = area_input(_("变更原因"))


class KeyDataChangeFacts(KindFacts):
    name: Text = fact("新姓名（不变更则省略）")
    gender: Code = fact("新性别（代码；不变更则省略）", choices=Gender.values)
    birth_date: Day = fact("新出生日期（不变更则省略）")
    id_type: Code = fact("新身份证件类型（代码；不变更则省略）", choices=IdDocumentType.values)
    id_number: Text = fact("新身份证件号（不变更则省略）")
    evidence_ref: Text = fact("户籍证明材料（名称或编号）")
    reason_text: Text = fact("变更原因")


# How a key data change shows the new values (the full values stay in the facts for the engine only).
NEW_VALUE_LABELS = {
    "name": N_("姓名"),
    "gender": N_("性别"),
    "birth_date": N_("出生日期"),
    "id_type": N_("身份证件类型"),
    "id_number": N_("身份证件号"),
}


@register
class KeyDataChange(KindSpec):
    kind = ChangeKind.KEY_DATA_CHANGE
    menu_order = 90
    facts_schema = KeyDataChangeFacts
    form = KeyDataChangeForm
    # The full new values are kept for the engine; pages show the masked ``new`` only.
    hidden_facts = frozenset({"name", "gender", "birth_date", "id_type"})

    def current_values(self, person: Any) -> list[tuple[str, str]]:
        return [
            (str(_("姓名")), person.name),
            (str(_("性别")), person.get_gender_display()),
            (str(_("出生日期")), person.birth_date.isoformat()),
            (str(_("身份证件类型")), person.get_id_type_display()),
            (str(_("身份证件号")), mask_id_number(person.id_number) if person.id_number else "—"),
        ]

    def fact_text(self, key: str, value: Any) -> str | None:
        return (
            "、".join(str(v) for v in value) if key == "changed_labels" and isinstance(value, list) else None
        )

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        """Each changed key datum, now → new (identity numbers masked on both sides)."""
        current = _masked(_current(request.person))
        new = request.facts.get("new") or {}
        return [(key, current.get(key, ""), new.get(key, "")) for key in request.facts.get("changed", [])]

    def extra_fact_rows(
        self, facts: dict[str, Any], text: Callable[[str, Any], str]
    ) -> list[tuple[str, str]]:
        rows = []
        for key, value in (facts.get("new") or {}).items():
            shown = text(key, value) if key != "id_number" else str(value)  # ``new`` holds it masked
            label = _(NEW_VALUE_LABELS.get(key, key))
            rows.append((str(_("变更后%(label)s") % {"label": label}), shown))
        return rows

    from_statuses = None  # any active record

    def prepare(self, ctx: Context) -> dict[str, Any]:
        assert ctx.enrollment is not None
        person = Person.objects.get(pk=ctx.enrollment.person_id)
        current = _current(person)
        raw = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in current.items()}
        raw.update({k: ctx.facts[k] for k in KEY_FIELDS if k in ctx.facts and ctx.facts[k] is not None})
        errors: dict[str, str] = {}
        proposed = clean_fields(_SPECS, raw, errors)
        if errors:
            raise KeyDataInvalid(errors)
        identity = validate_identity(
            proposed["id_type"],
            proposed.get("id_number") or "",
            today=ctx.today,
            known_region=divisions.is_known_address_code,
        )
        proposed["id_number"] = identity.number
        check_identity_matches(identity, birth_date=proposed["birth_date"], gender=proposed["gender"])
        changed = [k for k in KEY_FIELDS if proposed[k] != current[k]]
        if not changed:
            raise ApplicationError("no_change", "所填关键数据与现有学籍信息相同，没有需要变更的内容")
        label = (ctx.policy.get("required_evidence", {}).get(self.kind) or {}).get("any", "证明材料")
        evidence = str(ctx.facts.get("evidence_ref") or "").strip()
        if not evidence:
            raise FieldError("evidence_ref", "required", f"关键数据变更须提供{label}（第十三条）")
        new_key = IdentityKey.make_key(identity.doc_type, identity.number) if identity.number else None
        if new_key:
            refusal = duplicate_identity(new_key, person.pk)
            if refusal is not None:
                raise refusal
        follows = (
            person.student_number.startswith("G")
            and identity.doc_type == "1"
            and identity.number != current["id_number"]
        )
        if (
            follows
            and StudentNumber.objects.filter(number=StudentNumber.key_for("G" + identity.number))
            .exclude(person=person)
            .exists()
        ):
            raise Conflict("student_number_taken", "按新身份证件号生成的学籍号已被其他学生使用，请核实")
        new_values = {k: proposed[k] for k in changed}
        return {
            "changed": changed,
            "changed_labels": [_LABELS[k] for k in changed],
            "new": _masked(new_values),
            # The full new values (the engine keeps ``id_number`` out of the audit).
            "name": proposed["name"],
            "gender": proposed["gender"],
            "birth_date": proposed["birth_date"].isoformat(),
            "id_type": proposed["id_type"],
            "id_number": proposed["id_number"],
            "student_number_follows": follows,
            "evidence_ref": evidence[:100],
            "reason_text": str(ctx.facts.get("reason_text") or "")[:200],
        }

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        facts = request.facts
        person = Person.objects.select_for_update().get(pk=request.enrollment.person_id)
        old = {**_current(person), "student_number": person.student_number}
        new_key = IdentityKey.make_key(facts["id_type"], facts["id_number"]) if facts["id_number"] else None
        old_key = IdentityKey.make_key(old["id_type"], old["id_number"]) if old["id_number"] else None
        if new_key and new_key != old_key:
            refusal = duplicate_identity(new_key, person.pk)
            if refusal is not None:
                raise refusal
        for k in KEY_FIELDS:
            setattr(person, k, date.fromisoformat(facts[k]) if k == "birth_date" else facts[k])
        number_changed = False
        if facts["student_number_follows"] and person.student_number != "G" + facts["id_number"]:
            person.student_number = "G" + facts["id_number"]
            number_changed = True
        person.save(update_fields=[*KEY_FIELDS, "student_number", "updated_at"])
        try:
            with transaction.atomic():
                if new_key != old_key:
                    if old_key:
                        IdentityKey.objects.filter(key=old_key, person=person).delete()
                    if new_key:
                        IdentityKey.objects.create(
                            key=new_key, person=person, province_code=person.province_code
                        )
                if number_changed:
                    StudentNumber.objects.filter(person=person).delete()
                    StudentNumber.objects.create(
                        number=StudentNumber.key_for(person.student_number),
                        person=person,
                        kind="G",
                        province_code=person.province_code,
                    )
        except IntegrityError as exc:
            raise Conflict(
                "concurrent_registration",
                "该身份证件号或学籍号刚被其他操作占用，请核实（第九条：不得重复建立学籍）",
            ) from exc
        facts["previous"] = {
            **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in old.items()},
        }
        request.before = {**request.before, "person": _masked(old)}
        request.save(update_fields=["before"])
        after = _masked({**_current(person), "student_number": person.student_number})
        return {"person": after, "changed": facts["changed"], "student_number_changed": number_changed}
