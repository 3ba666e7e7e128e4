"""More refusals and edges of the dropout ledger (第17条): a follow-up or a close with bad input names the field and
changes nothing; a lead file that is too big, a zip bomb, too long or incomplete is refused row by row and
opens no case (all or nothing); the ledger export without summaries; re-reaching a step of escalation does not
tell the department again."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils.translation import gettext_lazy

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.models import Notification
from xueji.core.errors import Conflict, FieldError
from xueji.dropouts import services
from xueji.dropouts.enums import Escalation, FollowUpKind, Outcome, Reason, Source, State
from xueji.dropouts.models import CaseEscalation, DropoutCase, FollowUp
from xueji.dropouts.services import (
    LEAD_COLUMNS,
    LEAD_MAX_BYTES,
    LEAD_MAX_ROWS,
    LEAD_MAX_UNCOMPRESSED,
    case_close,
    case_open,
    cases_escalate,
    follow_up_add,
    leads_import,
    ledger_export,
)

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)
DUE = date(2026, 11, 30)  # 5 working days after MONDAY


@pytest.fixture
def s(tree: Any) -> dict[str, Any]:
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    senior = f.school("440105", "senior", name="海珠高中")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "second": c.enrolled(school, grade=5, name="周大海"),
        "senior_pupil": c.enrolled(senior, grade=10, name="黄一鸣"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
    }


def _open(s: dict[str, Any]) -> DropoutCase:
    return case_open(
        actor=s["reg"],
        enrollment=s["pupil"],
        source=Source.SCHOOL,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        today=MONDAY,
    )


def _xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append([h for _k, h in LEAD_COLUMNS])
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _row(pupil: Any, **kw: Any) -> list[Any]:
    values = {
        "number": pupil.person.student_number,
        "name": pupil.person.name,
        "lead_from": "城关派出所",
        "days_absent": 20,
        "last_seen": "2026-11-02",
        "reason": str(Reason.WORK.label),
    }
    values.update(kw)
    return [values[k] for k, _h in LEAD_COLUMNS]


# ---------------------------------------------------------------------------------------------- follow-up and close


@pytest.mark.parametrize(
    ("kw", "field", "code"),
    [
        ({"kind": FollowUpKind.SYSTEM}, "kind", "invalid_kind"),  # the system's own rows
        ({"kind": "rumour"}, "kind", "invalid_kind"),
        ({"on": FRIDAY + timedelta(days=1)}, "date", "future_date"),
        ({"people": "  "}, "people", "required"),
        ({"result": "\n"}, "result", "required"),
    ],
)
def test_a_bad_follow_up_names_the_field_and_writes_nothing(
    s: dict[str, Any], kw: dict[str, Any], field: str, code: str
) -> None:
    """第17条 动态跟踪: a follow-up is a real contact on a past day, with who took part and what came of it."""
    case = _open(s)
    args = {
        "actor": s["reg"],
        "case": case,
        "on": FRIDAY,
        "kind": FollowUpKind.VISIT,
        "people": "班主任",
        "result": "家访",
        "next_in_working_days": 3,
        "today": FRIDAY,
    }
    with pytest.raises(FieldError) as err:
        follow_up_add(**{**args, **kw})
    assert (err.value.field, err.value.code) == (field, code)
    assert not FollowUp.objects.exists()
    case.refresh_from_db()
    assert case.next_follow_up == DUE  # unchanged
    assert not AuditEvent.objects.filter(event_type=EventType.DROPOUT_FOLLOWED_UP).exists()


def test_a_return_dated_outside_the_case_is_refused(s: dict[str, Any]) -> None:
    """第17条 劝返复学: the pupil returned between the day the case was opened and today — neither before nor after."""
    case = _open(s)
    for returned_on in (MONDAY - timedelta(days=1), FRIDAY + timedelta(days=1)):
        with pytest.raises(Conflict) as err:
            case_close(
                actor=s["reg"],
                case=case,
                outcome=Outcome.RETURNED,
                returned_class="4年级1班",
                returned_on=returned_on,
                today=FRIDAY,
            )
        assert err.value.code == "returned_incomplete"
        assert set(err.value.fields) == {"returned_on"}
    case.refresh_from_db()
    assert (case.state, case.outcome, case.returned_on) == (State.OPEN, "", None)
    assert not AuditEvent.objects.filter(event_type=EventType.DROPOUT_CLOSED).exists()


# ---------------------------------------------------------------------------------------------- lead import


def test_a_file_over_the_size_limit_is_refused(s: dict[str, Any]) -> None:
    with pytest.raises(FieldError) as err:
        leads_import(actor=s["haizhu"], content=b"\0" * (LEAD_MAX_BYTES + 1), today=MONDAY)
    assert (err.value.field, err.value.code) == ("file", "too_large")
    assert not DropoutCase.objects.exists()


def test_a_zip_bomb_is_refused_before_it_is_read(s: dict[str, Any]) -> None:
    """A small file that unpacks past the limit is refused as too large, not as an unreadable file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (LEAD_MAX_UNCOMPRESSED + 1))
    content = buffer.getvalue()
    assert len(content) <= LEAD_MAX_BYTES
    with pytest.raises(FieldError) as err:
        leads_import(actor=s["haizhu"], content=content, today=MONDAY)
    assert (err.value.field, err.value.code) == ("file", "too_large")
    assert "解压后" in err.value.message
    assert not DropoutCase.objects.exists()


def test_more_rows_than_the_limit_are_refused(s: dict[str, Any]) -> None:
    rows = [_row(s["pupil"]) for _i in range(LEAD_MAX_ROWS + 1)]
    with pytest.raises(FieldError) as err:
        leads_import(actor=s["haizhu"], content=_xlsx(rows), today=MONDAY)
    assert (err.value.field, err.value.code) == ("file", "too_many_rows")
    assert not DropoutCase.objects.exists()


def test_blank_rows_are_skipped_and_missing_cells_named_by_row_and_column(s: dict[str, Any]) -> None:
    """All or nothing: the good row 2 opens no case while row 4 lacks its name and department (row 3 is blank
    and skipped, but counted in the row numbers) and row 5 its pupil's number."""
    rows = [
        _row(s["pupil"]),
        ["  ", None, None, None, None, None],
        _row(s["second"], name="", lead_from=None),
        _row(s["second"], number=" "),
    ]
    report = leads_import(actor=s["haizhu"], content=_xlsx(rows), today=MONDAY)
    assert report.opened == 0
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (4, "姓名", "必填"),
        (4, "线索来源部门", "必填"),
        (5, "学籍号或身份证件号", "必填"),
    ]
    assert not DropoutCase.objects.exists()


def test_a_refusal_of_the_case_is_reported_at_the_pupil_column(s: dict[str, Any]) -> None:
    """A senior-high pupil in the county is found but is not in compulsory education (第17条): the refusal of
    :func:`case_open` is reported on the row, at the column naming the pupil; the other row opens nothing."""
    rows = [_row(s["pupil"]), _row(s["senior_pupil"])]
    report = leads_import(actor=s["haizhu"], content=_xlsx(rows), today=MONDAY)
    assert report.opened == 0
    assert [(e.row, e.column) for e in report.errors] == [(3, "学籍号或身份证件号")]
    assert "义务教育" in report.errors[0].message
    assert not DropoutCase.objects.exists()


def test_numbers_typed_as_decimals_and_dates_are_read(s: dict[str, Any]) -> None:
    """Excel may hand a whole number as 20.0 and a date as a date: both are read as the user meant."""
    assert services._cell_text(20.0) == "20"
    assert services._cell_text(20.5) == "20.5"
    values = _row(s["pupil"], days_absent=20.0, last_seen=date(2026, 11, 2))
    data, errors = services._parse_lead(values)
    assert errors == []
    assert (data["days_absent"], data["last_seen"]) == (20, date(2026, 11, 2))
    data, errors = services._parse_lead(_row(s["pupil"], last_seen=datetime(2026, 11, 2, 8, 30)))
    assert errors == [] and data["last_seen"] == date(2026, 11, 2)
    report = leads_import(
        actor=s["haizhu"], content=_xlsx([_row(s["pupil"], days_absent=20.0)]), today=MONDAY
    )
    assert (report.opened, report.errors) == (1, ())
    case = DropoutCase.objects.get()
    assert (case.source, case.days_absent, case.lead_from) == (Source.LEAD, 20, "城关派出所")


# ---------------------------------------------------------------------------------------------- export


def test_the_export_without_summaries_has_only_the_ledger_sheet(s: dict[str, Any]) -> None:
    """第17条 monthly report: with no unit rows and no returns, the file holds the cases' sheet only."""
    from openpyxl import load_workbook

    _open(s)
    content = ledger_export(actor=s["haizhu"], cases=DropoutCase.objects.all(), today=FRIDAY)
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["控辍保学台账"]
    rows = list(wb.active.iter_rows(values_only=True))
    assert [r[:2] for r in rows[1:]] == [("海珠一小", "林小雨")]
    assert AuditEvent.objects.get(event_type=EventType.DROPOUT_EXPORTED).after == {"rows": 1}


def test_a_lazy_text_is_written_as_its_text() -> None:
    from openpyxl import Workbook

    ws = Workbook(write_only=True).create_sheet()
    text = services._text_cell(ws, gettext_lazy("合计"))
    assert type(text) is str and text == "合计"  # a plain string openpyxl can write
    cell = services._text_cell(ws, gettext_lazy("=合计"))
    assert (cell.value, cell.data_type) == ("=合计", "s")  # and formula-safe once it is text


# ---------------------------------------------------------------------------------------------- escalation


def test_reaching_a_step_again_for_the_same_missed_date_tells_nobody_again(s: dict[str, Any]) -> None:
    """第17条 逐级上报: one escalation row and one notice per step and missed follow-up — if the case's level is
    found lower again (reset by hand), the step is re-applied without a second row or notice."""
    case = _open(s)
    late = DUE + timedelta(days=1)
    assert cases_escalate(today=late, up_after=10, province_after=20).county == 1
    DropoutCase.objects.filter(pk=case.pk).update(escalation=Escalation.NONE)
    assert cases_escalate(today=late, up_after=10, province_after=20).county == 1
    case.refresh_from_db()
    assert case.escalation == Escalation.COUNTY
    assert CaseEscalation.objects.filter(case=case).count() == 1
    assert Notification.objects.filter(notice="dropout_escalated").count() == 1
