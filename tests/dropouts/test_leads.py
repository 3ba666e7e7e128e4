"""Leads from other departments (第17条 根据……相关部门反馈的问题线索开展问题排查与辍学劝返复学工作): a county registrar
names the pupil by 学籍号 or identity number AND name, within the county only (anything else is "not found",
nothing created, no oracle); the department is recorded on the case; an .xlsx import is all or nothing with a
Chinese error per bad row naming the column."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.core.errors import FieldError, Forbidden, NotFound
from xueji.dropouts.enums import Reason, Source, State
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import LEAD_COLUMNS, lead_open, leads_import, leads_template

pytestmark = pytest.mark.django_db
# The pupil's own birth date: no number the factories generate (born 2018-03-14) can equal this one.
BORN = date(2016, 7, 9)
PUPIL_ID = f.resident_id(birth=BORN, seq=402)
MONDAY = date(2026, 11, 23)


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    other = f.school("440106", "primary", name="天河一小")
    senior = f.school("440105", "senior", name="海珠高中")
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=4, name="林小雨", birth_date=BORN, id_number=PUPIL_ID),
        "second": c.enrolled(school, grade=5, name="周大海"),
        "elsewhere": c.enrolled(other, grade=4, name="陈晓东"),
        "senior_pupil": c.enrolled(senior, grade=10, name="黄一鸣"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
    }


def _lead(s: dict[str, Any], *, actor: Any = None, number: str | None = None, name: str = "林小雨") -> Any:
    return lead_open(
        actor=actor or s["haizhu"],
        number=number if number is not None else s["pupil"].person.student_number,
        name=name,
        lead_from="城关派出所",
        days_absent=20,
        last_seen=date(2026, 11, 2),
        reason=Reason.WORK,
        today=MONDAY,
    )


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header if header is not None else [h for _k, h in LEAD_COLUMNS])
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- one lead


def test_county_enters_a_lead_by_student_number_and_name(s):  # type: ignore[no-untyped-def]
    """第17条: a lead from another department opens a case; its source and the department are on the case."""
    case = _lead(s)
    assert case.source == Source.LEAD and case.lead_from == "城关派出所"
    assert case.person_id == s["pupil"].person_id and case.state == State.OPEN
    assert case.opened_by == s["haizhu"]


def test_a_lead_may_name_the_pupil_by_identity_number(s):  # type: ignore[no-untyped-def]
    case = _lead(s, number=PUPIL_ID)
    assert case.person_id == s["pupil"].person_id


@pytest.mark.parametrize(
    ("who", "number", "name"),
    [
        ("haizhu", "other_county_pupil", "陈晓东"),  # exists, enrolled in 天河区
        ("haizhu", "pupil", "林小雪"),  # number right, name wrong
        ("haizhu", "G440105201801019999", "林小雨"),  # nobody
        ("tianhe", "pupil", "林小雨"),  # exists, outside 天河区's region
    ],
)
def test_a_lead_outside_the_region_is_not_found_and_creates_nothing(s, who, number, name):  # type: ignore[no-untyped-def]
    """第17、23条: the look-up is the county's own region only; every miss is the same "not found" (no oracle)."""
    numbers = {
        "other_county_pupil": s["elsewhere"].person.student_number,
        "pupil": s["pupil"].person.student_number,
    }
    with pytest.raises(NotFound) as exc:
        _lead(s, actor=s[who], number=numbers.get(number, number), name=name)
    assert exc.value.message == "未找到学籍号（或身份证件号）与姓名均匹配的在读学生"
    assert not DropoutCase.objects.exists()


def test_a_lead_needs_a_department_registrar_and_a_department(s):  # type: ignore[no-untyped-def]
    """第17条: leads are the county education department's; a school registrar is refused before any look-up."""
    with pytest.raises(Forbidden):
        _lead(s, actor=s["reg"])
    with pytest.raises(FieldError) as exc:
        lead_open(
            actor=s["haizhu"],
            number=s["pupil"].person.student_number,
            name="林小雨",
            lead_from="  ",
            days_absent=3,
            last_seen=None,
            reason=Reason.WORK,
            today=MONDAY,
        )
    assert exc.value.field == "lead_from"
    with pytest.raises(FieldError) as bad_number:
        _lead(s, number="12", name="林小雨")
    assert bad_number.value.field == "number"
    assert not DropoutCase.objects.exists()


def test_a_lead_on_a_senior_pupil_is_refused(s):  # type: ignore[no-untyped-def]
    """第17条 applies to compulsory education only."""
    with pytest.raises(FieldError) as exc:
        _lead(s, number=s["senior_pupil"].person.student_number, name="黄一鸣")
    assert exc.value.code == "not_compulsory"


def test_lead_page_not_found_shows_on_the_number_field(s):  # type: ignore[no-untyped-def]
    client = _login(s["haizhu"])
    data = {
        "number": s["elsewhere"].person.student_number,
        "name": "陈晓东",
        "lead_from": "民政局",
        "reason": Reason.WORK,
        "days_absent": 10,
        "last_seen": "",
    }
    response = client.post(reverse("dropouts:lead"), data)
    assert response.status_code == 400
    assert "未找到学籍号（或身份证件号）与姓名均匹配的在读学生" in response.content.decode()
    assert not DropoutCase.objects.exists()
    data.update(number=s["pupil"].person.student_number, name="林小雨")
    response = client.post(reverse("dropouts:lead"), data)
    case = DropoutCase.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dropouts:case", args=[case.pk])
    assert case.lead_from == "民政局"
    page = client.get(reverse("dropouts:case", args=[case.pk])).content.decode()
    assert "民政局" in page


def test_lead_pages_do_not_exist_for_school_registrars(s):  # type: ignore[no-untyped-def]
    client = _login(s["reg"])
    for name in ("dropouts:lead", "dropouts:leads_import", "dropouts:leads_template"):
        assert client.get(reverse(name)).status_code == 404
    assert "登记相关部门线索" not in client.get(reverse("dropouts:ledger")).content.decode()
    assert "登记相关部门线索" in _login(s["haizhu"]).get(reverse("dropouts:ledger")).content.decode()


# ---------------------------------------------------------------------------------------------- import


def test_import_opens_every_lead(s):  # type: ignore[no-untyped-def]
    content = _xlsx(
        [
            [s["pupil"].person.student_number, "林小雨", "城关派出所", 20, date(2026, 11, 2), "外出务工"],
            [s["second"].person.student_number, "周大海", "乡镇人民政府", "15", "2026-11-05", "aversion"],
        ]
    )
    result = leads_import(actor=s["haizhu"], content=content, today=MONDAY)
    assert result.errors == () and result.opened == 2
    cases = {c.person_id: c for c in DropoutCase.objects.all()}
    assert cases[s["pupil"].person_id].reason == Reason.WORK
    assert cases[s["second"].person_id].reason == Reason.STUDY_AVERSION
    assert cases[s["second"].person_id].last_seen == date(2026, 11, 5)
    assert {c.lead_from for c in cases.values()} == {"城关派出所", "乡镇人民政府"}


def test_import_is_all_or_nothing_with_a_chinese_error_per_row_and_column(s):  # type: ignore[no-untyped-def]
    """One bad row and no case is opened; each error names the row and the column header."""
    content = _xlsx(
        [
            [s["pupil"].person.student_number, "林小雨", "城关派出所", 20, "", "外出务工"],  # good
            [s["elsewhere"].person.student_number, "陈晓东", "派出所", 20, "", "厌学"],  # other county
            [s["second"].person.student_number, "周大海", "", "很多", "11/05", "不想上"],  # four bad cells
            [s["pupil"].person.student_number, "林小雨", "城关派出所", 20, "", "外出务工"],  # duplicate
        ]
    )
    result = leads_import(actor=s["haizhu"], content=content, today=MONDAY)
    assert result.opened == 0
    texts = [str(e) for e in result.errors]
    assert texts[0] == "第3行「学籍号或身份证件号」：未找到学籍号（或身份证件号）与姓名均匹配的在读学生"
    assert {(e.row, e.column) for e in result.errors if e.row == 4} == {
        (4, "线索来源部门"),
        (4, "连续缺课天数"),
        (4, "最后到校日期"),
        (4, "辍学原因"),
    }
    assert "第5行「学籍号或身份证件号」：与第2行重复" in texts
    assert not DropoutCase.objects.exists()


def test_import_refuses_a_wrong_header_or_a_non_excel_file(s):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        leads_import(actor=s["haizhu"], content=_xlsx([], header=["姓名", "学籍号"]), today=MONDAY)
    assert exc.value.field == "file" and exc.value.code == "bad_header"
    with pytest.raises(FieldError) as not_xlsx:
        leads_import(actor=s["haizhu"], content=b"name,number\n", today=MONDAY)
    assert not_xlsx.value.code == "not_xlsx"
    with pytest.raises(FieldError) as empty:
        leads_import(actor=s["haizhu"], content=_xlsx([]), today=MONDAY)
    assert empty.value.code == "empty"
    with pytest.raises(Forbidden):
        leads_import(actor=s["reg"], content=_xlsx([]), today=MONDAY)


def test_import_page_lists_row_errors_and_the_template_reads_back(s):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import load_workbook

    client = _login(s["haizhu"])
    template = client.get(reverse("dropouts:leads_template"))
    assert template.status_code == 200
    header = next(load_workbook(io.BytesIO(template.content)).active.iter_rows(values_only=True))
    assert list(header) == [h for _k, h in LEAD_COLUMNS]
    assert leads_template()[:2] == b"PK"
    bad = _xlsx([[s["pupil"].person.student_number, "林小雨", "城关派出所", 20, "", "说不清"]])
    response = client.post(reverse("dropouts:leads_import"), {"file": SimpleUploadedFile("leads.xlsx", bad)})
    assert response.status_code == 400
    assert "第2行「辍学原因」" in response.content.decode()
    assert not DropoutCase.objects.exists()
    good = _xlsx([[s["pupil"].person.student_number, "林小雨", "城关派出所", 20, "", "外出务工"]])
    response = client.post(reverse("dropouts:leads_import"), {"file": SimpleUploadedFile("leads.xlsx", good)})
    assert response.status_code == 302
    assert DropoutCase.objects.get().source == Source.LEAD
