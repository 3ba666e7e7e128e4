"""How the guardian pages show a child's record: identifiers masked with ``xueji.core.masking`` (学籍号, 身份证件号,
phones; security.md §2, GB/T 35273 §7.2), everything else as the school keeps it."""

from __future__ import annotations

from typing import Any

import segno
from django.utils.translation import gettext as _

from xueji.changes.kinds.suspension import REASONS
from xueji.core.masking import mask_id_number, mask_name, mask_phone, mask_student_number
from xueji.schools.grades import grade_label
from xueji.students.fields import PERSON_FIELDS
from xueji.students.models import Enrollment, Guardian

from .services import CORRECTABLE_FIELDS, KEY_CORRECTABLE_FIELDS

LABELS = {s.key: s.label for s in PERSON_FIELDS}

#: The fields of the record a guardian sees, in order (identifiers masked).
SHOWN_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "ethnicity",
    "id_type",
    "id_number",
    "current_address",
    "mailing_address",
    "home_address",
    "phone",
    "postal_code",
    "email",
    "specialty",
    "name_pinyin",
    "former_name",
    "native_place",
)


def _value(person: Any, key: str) -> str:
    value = getattr(person, key)
    display = getattr(person, f"get_{key}_display", None)
    if callable(display):
        return str(display())
    if key == "id_number":
        return mask_id_number(value) if value else "—"
    if key == "phone":
        return mask_phone(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value) if value not in (None, "") else "—"


def record_rows(enrollment: Enrollment) -> list[tuple[str, str]]:
    """(label, value) rows of the child's record for the guardian page."""
    person = enrollment.person
    rows = [
        (_("学籍号"), mask_student_number(person.student_number)),
        (_("学校"), enrollment.school.name),
        (_("年级"), str(grade_label(enrollment.grade))),
        (_("班级"), enrollment.class_name),
        (_("学籍状态"), str(enrollment.get_status_display())),
    ]
    rows += [(_(LABELS[key]), _value(person, key)) for key in SHOWN_FIELDS]
    return rows


def family_rows(members: list[Guardian]) -> list[tuple[str, str, str]]:
    return [(m.name, str(m.get_relation_display()), mask_phone(m.phone)) for m in members]


def correction_choices() -> list[tuple[str, str]]:
    """The correctable fields for the guardian's form: ordinary ones first, then the key data (第13条)."""
    ordinary = [(k, _(LABELS[k])) for k in CORRECTABLE_FIELDS]
    key = [
        (k, _("%(label)s（关键信息，须经主管部门核准）") % {"label": _(LABELS[k])})
        for k in KEY_CORRECTABLE_FIELDS
    ]
    return ordinary + key


def payload_rows(kind: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """What a guardian asked for, for the school's and the guardian's pages (ID numbers masked)."""
    rows: list[tuple[str, str]] = []
    if kind == "correction":
        key = payload.get("field", "")
        value = str(payload.get("value", ""))
        rows.append((_("更正项目"), _(LABELS.get(key, key))))
        rows.append((_("正确内容"), mask_id_number(value) if key == "id_number" else value))
    elif kind == "transfer":
        rows.append((_("转入学校"), str(payload.get("school_name", ""))))
        rows.append((_("学校标识码"), str(payload.get("school_code", ""))))
        rows.append((_("转学原因"), str(payload.get("reason", ""))))
    elif kind == "suspension":
        rows.append((_("休学原因"), REASONS.get(payload.get("reason", ""), "")))
        rows.append((_("休学开始日期"), str(payload.get("start_date", ""))))
        rows.append((_("休学结束日期"), str(payload.get("end_date", ""))))
    elif kind == "resumption":
        rows.append((_("复学日期"), str(payload.get("resume_date", ""))))
    if payload.get("note"):
        rows.append((_("说明"), str(payload["note"])))
    return rows


def field_label(key: str) -> str:
    """The Chinese label of a record field (history rows name fields by key)."""
    return str(_(LABELS[key])) if key in LABELS else key


def masked_name(name: str) -> str:
    """The pupil's name on a printed binding slip (the guardian types it in full to bind)."""
    return mask_name(name)


def qr_svg(data: str) -> str:
    """An inline SVG QR code (segno; no inline style, so the strict CSP holds) for a binding slip. The code
    travels in the URL's fragment (``#c=…``), which the browser never sends to a server (ASVS 14.2.1)."""
    return str(segno.make(data, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def current_value(person: Any, key: str) -> str:
    """The value a correction would replace, as the record page shows it (identifiers masked)."""
    return _value(person, key) if key in LABELS else ""
