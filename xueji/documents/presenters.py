"""What the printed documents show — built from the pages' own presenters, never a second copy of them.

- 学籍卡 (学生登记表): the record page's field groups (:func:`xueji.students.views.basic_groups`) and non-basic
  fields, the family, the current enrollment and a summary of the status changes the viewer may see. An
  identifier the record page lets this viewer reveal (its row carries ``reveal``: 学籍号 always, 身份证件号 and
  联系电话 unless the viewer holds only a former school's frozen copy — issue #6 §3.5) is printed in full; the
  rest stays masked exactly as on the page (family members' phones and ID numbers).
- Change forms: what the request's page shows (:func:`xueji.changes.presenters.request_page`): the student
  (学籍号 masked), the facts with both schools and the reason, and every approval step with its unit, result,
  comment, the approver's name and date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xueji.accounts.types import Actor
from xueji.changes.enums import ChangeKind, Scope
from xueji.changes.models import ChangeRequest
from xueji.changes.presenters import request_page, timeline_entries
from xueji.changes.queries import timeline_requests
from xueji.core.masking import mask_phone, mask_student_number
from xueji.students.models import Enrollment
from xueji.students.queries import frozen_at, masked, record_guardians
from xueji.students.views import basic_groups, extra_rows

#: A card lists the latest status changes; older ones are counted, not listed (one record, bounded work).
CARD_CHANGES = 20


@dataclass(frozen=True)
class PrintedForm:
    title: Any
    basis: Any  # the article the form is made under, printed below the approvals


#: The change kinds with a printable form (a kind not listed here has none: its form URL is a 404).
FORMS: dict[str, PrintedForm] = {
    ChangeKind.TRANSFER: PrintedForm(
        title=gettext_lazy("中小学生转学申请表（转学联系函）"),
        basis=gettext_lazy(
            "依据《中小学生学籍管理办法》第十五条：转入学校启动学籍转接，转出学校及双方学校上级学籍管理部门"
            "各在 10 个工作日内核办；学籍号不变，转出学校备份保留电子学籍档案。"
        ),
    ),
}


@dataclass(frozen=True)
class Card:
    """A 学籍卡's context and the identifiers it shows in full (for the audit event)."""

    context: dict[str, Any]
    full_fields: frozenset[str]


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Rows two to a table line (label, value, label, value) as the paper form lays them out."""
    return [(rows[i], rows[i + 1] if i + 1 < len(rows) else None) for i in range(0, len(rows), 2)]


def _printed_groups(enrollment: Enrollment) -> tuple[list[dict[str, Any]], set[str]]:
    """The record page's groups with every identifier this viewer may reveal there shown in full."""
    person = enrollment.person
    full: set[str] = set()
    groups = []
    for group in basic_groups(enrollment):
        rows = []
        for row in group["rows"]:
            shown = {"label": row["label"], "value": row["value"], "mono": row.get("mono", False)}
            if row.get("reveal"):
                shown["value"] = str(getattr(person, row["key"]))
                full.add(row["key"])
            rows.append(shown)
        groups.append({"title": group["title"], "pairs": _pairs(rows)})
    return groups, full


def card_context(viewer: Actor, enrollment: Enrollment) -> Card:
    person = enrollment.person
    groups, full = _printed_groups(enrollment)
    requests = list(timeline_requests(viewer=viewer, person_id=enrollment.person_id)[: CARD_CHANGES + 1])
    total = len(requests)
    if total > CARD_CHANGES:
        total = timeline_requests(viewer=viewer, person_id=enrollment.person_id).count()
    changes = timeline_entries(requests[:CARD_CHANGES])
    guardians = [
        {"g": g, "phone": mask_phone(g.phone), "id_masked": masked(g.id_number)}
        for g in record_guardians(enrollment)
    ]
    number = person.student_number if "student_number" in full else mask_student_number(person.student_number)
    context = {
        "e": enrollment,
        "person": person,
        "number": number,
        "groups": groups,
        "extra": _pairs(extra_rows(person)),
        "guardians": guardians,
        "changes": changes,
        "changes_total": total,
        "changes_shown": len(changes),
        "frozen_at": frozen_at(enrollment),
        "printed_at": timezone.localtime(),
        "printed_by": viewer,
    }
    return Card(context=context, full_fields=frozenset(full))


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def change_form_context(viewer: Actor, req: ChangeRequest) -> dict[str, Any]:
    """The request page's content (the same presenter, the same masking) laid out as a paper form."""
    page = request_page(viewer, req)
    steps = [
        {
            "s": s,
            "decided_by": str(s.decided_by) if s.decided_by is not None else "",
            "comment": s.comment,
        }
        for s in page["steps"]
    ]
    kind = str(req.get_kind_display())
    if req.scope != Scope.NONE:
        kind += f"（{req.get_scope_display()}）"
    rows = [
        {"label": _("姓名"), "value": page["name"]},
        {"label": _("学籍号"), "value": page["number"], "mono": True},
        {"label": _("业务类型"), "value": kind},
        *({"label": label, "value": value} for label, value in page["facts"]),
        {"label": _("发起单位"), "value": req.initiator_org.name},
        {"label": _("提交时间"), "value": _when(req.created_at)},
        {"label": _("办结时间"), "value": _when(req.closed_at)},
        {"label": _("适用规则"), "value": page["policy_label"]},
    ]
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:  # a kind whose facts name the student again: once
        unique.setdefault(str(row["label"]), row)
    return {
        "req": req,
        "title": FORMS[req.kind].title,
        "basis": FORMS[req.kind].basis,
        "name": page["name"],
        "facts": _pairs(list(unique.values())),
        "steps": steps,
        "printed_at": timezone.localtime(),
        "printed_by": viewer,
    }
