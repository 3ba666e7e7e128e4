"""Digit strings that Excel turned into numbers (issue 8 item 7): the identity number and phone columns
report an Excel format problem and how to fix it, in the form, the API and the import alike (one validator)."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from tests.factories import core as f
from tests.factories import imports as fi
from xueji.imports import services
from xueji.students.models import Person
from xueji.students.validation import RegistrationInvalid, clean_registration, grade_number

ID = "440105201803140032"


def _errors(**person) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistrationInvalid) as exc:
        clean_registration(
            f.person_data(**person), f.enrollment_data(), [f.guardian_data()], school_stages=["primary"],
            today=timezone.localdate(),
        )  # fmt: skip
    return dict(exc.value.fields)


@pytest.mark.parametrize(
    "value", [4.40105e17, float(ID), "4.40105E+17", "4.40105e17", f"{ID}.0", " 4.40105E+17 "]
)
def test_an_identity_number_excel_made_a_number_is_an_excel_problem(value):
    message = _errors(id_number=value)["id_number"]
    assert "Excel" in message and "文本" in message and "校验" not in message


@pytest.mark.parametrize("value", ["13800138000.0", "1.38001E+10"])
def test_a_phone_excel_made_a_number_is_an_excel_problem(value):
    message = _errors(phone=value)["phone"]
    assert "Excel" in message


def test_a_number_that_survived_is_accepted():
    """An 11-digit phone in a numeric cell is exact: nothing to complain about."""
    reg = clean_registration(
        f.person_data(phone=13800138000.0), f.enrollment_data(), [f.guardian_data()], school_stages=["primary"],
        today=timezone.localdate(),
    )  # fmt: skip
    assert reg.person["phone"] == "13800138000"


def test_a_guardian_phone_is_checked_the_same_way():
    with pytest.raises(RegistrationInvalid) as exc:
        clean_registration(
            f.person_data(), f.enrollment_data(), [f.guardian_data(phone="1.39001E+10")], school_stages=["primary"],
            today=timezone.localdate(),
        )  # fmt: skip
    assert "Excel" in exc.value.fields["guardians.0.phone"]


def test_a_guardian_identity_number_keeps_its_excel_message():
    with pytest.raises(RegistrationInvalid) as exc:
        clean_registration(
            f.person_data(), f.enrollment_data(), [f.guardian_data(id_type="1", id_number="4.40105E+17")],
            school_stages=["primary"], today=timezone.localdate(),
        )  # fmt: skip
    assert "Excel" in exc.value.fields["guardians.0.id_number"]


@pytest.mark.django_db
def test_the_import_names_the_column_and_the_fix(school_a, registrar_a, tmp_path):
    rows = fi.students(2)
    rows[1]["身份证件号"] = "4.40105E+17"
    path = fi.write_csv(tmp_path / "a.csv", rows)
    batch = services.import_batch_create(
        actor=registrar_a, school=school_a, uploaded_file_path=path, file_name=path.name
    )
    services.import_batch_check(actor=registrar_a, batch=batch)
    assert batch.status == "invalid"
    [problem] = batch.errors
    assert (problem["row"], problem["column"]) == (3, "身份证件号") and "Excel" in problem["message"]
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("typed", "grade"),
    [("1", 1), ("一年级", 1), ("六年级", 6), ("七年级", 7), ("初一", 7), ("初三", 9), ("九年级", 9), ("高一", 10),
     ("高三", 12), ("3年级", 3), ("１２", 12), (" 初 二 ", 8), ("13", None), ("高四", None), ("四年", None)],
)  # fmt: skip
def test_grade_numbers_and_grade_names(typed, grade):
    """Issue 8 item 7: 年级 as a number or as its name."""
    assert grade_number(typed) == grade


@pytest.mark.parametrize(("typed", "grade"), [("一年级", 1), ("3年级", 3), (3.0, 3), ("三年级", 3)])
def test_the_registration_takes_grade_names_form_api_and_import_alike(typed, grade):
    reg = clean_registration(
        f.person_data(birth_date=date(2018, 3, 14) if grade == 1 else date(2016, 3, 14)),
        f.enrollment_data(grade=typed), [f.guardian_data()], school_stages=["primary"], today=timezone.localdate(),
    )  # fmt: skip
    assert reg.enrollment["grade"] == grade


@pytest.mark.parametrize("typed", ["0", "13", "四年", "高四", "初四", "一年级半"])
def test_a_grade_that_is_none_of_these_is_refused_naming_the_field(typed):
    with pytest.raises(RegistrationInvalid) as exc:
        clean_registration(
            f.person_data(), f.enrollment_data(grade=typed), [f.guardian_data()], school_stages=["primary"],
            today=timezone.localdate(),
        )  # fmt: skip
    assert "一年级" in exc.value.fields["grade"]


def test_an_identity_number_whose_last_digits_excel_zeroed_says_so():
    """Excel keeps 15 significant digits: the number comes back ending in 000 with a wrong check digit."""
    message = _errors(id_number=ID[:15] + "000")["id_number"]
    assert "校验位错误" in message and "Excel" in message
    plain = _errors(id_number=ID[:17] + ("1" if ID[17] != "1" else "2"))["id_number"]
    assert "校验位错误" in plain and "Excel" not in plain


def test_the_messages_quote_numbers_masked():
    """An import's problem list reaches the county too: a quoted identity number or phone stays masked."""
    assert ID not in _errors(id_number=f"{ID}.0")["id_number"]
    assert "440***********0032" in _errors(id_number=f"{ID}.0")["id_number"]
    assert "13800138000" not in _errors(phone="13800138000.0")["phone"]
    assert "13812345678" not in _errors(phone="138123456789")["phone"]
    assert "“12345”" in _errors(phone="12345")["phone"]  # nothing personal in a short wrong value
