"""Names (issue 8 item 3): Chinese names with the 间隔号, compound surnames and rare characters of CJK Extensions
B–G are accepted; digits, markup, emoji and control characters are refused with a field error; Latin letters
only with a foreign identity document. One rule (``validation.clean_name`` inside ``clean_fields``) for the form,
the API and the import: each path is shown to give the same answer.

The helpers at the top (``via_form``, ``via_api``, ``via_import``) are shared with the other rule tests of
issue 8 (test_plausibility.py, tests/regions/test_abolished_codes.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.conftest import Api
from tests.factories import core as f
from tests.factories import imports as fi
from tests.factories import students as sf
from xueji.core.errors import FieldError
from xueji.imports import services as import_services
from xueji.students.fields import PERSON_FIELDS
from xueji.students.identity import mod11_2_check_char
from xueji.students.models import Guardian, Person
from xueji.students.validation import RegistrationInvalid, clean_name, clean_registration

TODAY = date(2026, 9, 15)
LABELS = {s.key: s.label for s in PERSON_FIELDS} | {"grade": "年级", "age_confirmed": "年龄核实原因"}


# ------------------------------------------------------------------------------------------ the three paths
def via_form(
    client: Client, user: Any, person: dict[str, Any], enrollment: dict[str, Any] | None = None
) -> Any:
    """POST the registration form; returns the response (400 with the form in its context, or 302)."""
    client.force_login(user)
    return client.post(reverse("students:register"), sf.registration_post(person, enrollment))


def form_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.status_code
    return {k: "；".join(v) for k, v in response.context["form"].errors.items()}


def via_api(user: Any, school: Any, person: dict[str, Any], enrollment: dict[str, Any] | None = None) -> Any:
    enrollment = dict(enrollment or f.enrollment_data())
    confirmation = {k: enrollment.pop(k) for k in ("age_confirmed", "age_confirm_reason") if k in enrollment}
    body = {
        "school_id": school.pk,
        "person": person,
        "enrollment": enrollment,
        "guardians": [f.guardian_data()],
        **confirmation,  # top-level fields of the API (issue 8 item 4)
    }
    return Api(user).post("/api/v1/students/", body)


def api_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "registration_invalid"
    return dict(response.json()["fields"])


def import_row(
    person: dict[str, Any], enrollment: dict[str, Any] | None = None, **columns: Any
) -> dict[str, Any]:
    """One import row carrying the same values as ``person`` / ``enrollment`` (factory dicts)."""
    enrollment = enrollment or {}
    row = fi.student_row(birth=date.fromisoformat(person["birth_date"]))
    row.update(
        {
            LABELS[k]: v
            for k, v in person.items()
            if k in {"name", "birth_date", "id_number", "id_type", "former_name"}
        }
    )
    row.update(
        {
            "年级": enrollment.get("grade", row["年级"]),
            "入学年月": enrollment.get("entry_ym", row["入学年月"]),
        }
    )
    row.update(columns)
    return row


def via_import(user: Any, school: Any, tmp_path: Path, rows: list[dict[str, Any]]) -> Any:
    """Upload a CSV and run the dry run; returns the batch (``errors``: row, column, code, message)."""
    path = fi.write_csv(tmp_path / "rows.csv", rows)
    batch = import_services.import_batch_create(
        actor=user, school=school, uploaded_file_path=path, file_name=path.name
    )
    import_services.import_batch_check(actor=user, batch=batch)
    batch.refresh_from_db()
    return batch


def import_errors(batch: Any) -> dict[str, str]:
    return {e["column"]: e["message"] for e in batch.errors}


# ------------------------------------------------------------------------------------------ the rule itself
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("欧阳娜娜", "欧阳娜娜"),  # compound surname
        ("司马相如", "司马相如"),
        ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),  # 间隔号 U+00B7
        ("阿卜杜拉•买买提", "阿卜杜拉·买买提"),  # bullet typed for it
        ("阿依古丽・吐尔逊", "阿依古丽·吐尔逊"),  # katakana middle dot typed for it
        ("爱新觉罗‧启星", "爱新觉罗·启星"),  # hyphenation point
        ("王\U00020000", "王\U00020000"),  # Extension B 𠀀
        ("李\U0002a700", "李\U0002a700"),  # C
        ("张\U0002b740", "张\U0002b740"),  # D
        ("陈\U0002b820", "陈\U0002b820"),  # E
        ("刘\U0002ceb0", "刘\U0002ceb0"),  # F
        ("赵\U00030000", "赵\U00030000"),  # G
        ("王\u3400", "王\u3400"),  # Extension A
        ("  张三  ", "张三"),
    ],
)
def test_chinese_names_are_accepted(typed: str, stored: str) -> None:
    assert clean_name(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("王小3", "name_digit", "姓名不能含有数字（“3”）"),
        ("王小３", "name_digit", "姓名不能含有数字（“３”）"),
        ("王小①", "name_digit", "姓名不能含有数字（“①”）"),
        ("<b>王</b>", "name_markup", "姓名不能含有符号“<”"),
        ("王&小", "name_markup", "姓名不能含有符号“&”"),
        ('王小"', "name_markup", '姓名不能含有符号“"”'),
        ("王-小", "name_markup", "姓名不能含有符号“-”"),
        ("王😀", "name_emoji", "姓名不能含有表情或图形符号（“😀”）"),
        ("王★", "name_emoji", "姓名不能含有表情或图形符号（“★”）"),
        ("王\u200b小", "name_control", "姓名含有不可见的控制字符（U+200B），请删除后重新输入"),
        ("王\u202e小", "name_control", "姓名含有不可见的控制字符（U+202E），请删除后重新输入"),
        ("王\x07小", "name_control", "姓名含有不可见的控制字符（U+0007），请删除后重新输入"),
        ("王\n小", "name_control", "姓名含有不可见的控制字符（U+000A），请删除后重新输入"),
        ("王\ue000", "name_private_use", None),
        ("Иван", "name_script", None),
        ("王 小", "name_space", "中文姓名中不能有空格"),
        ("·王小", "name_dot", "姓名中的间隔号“·”只能用在两个字之间，且不能连用"),
        ("阿卜杜拉··买买提", "name_dot", None),
        ("王小·", "name_dot", None),
        ("Anna王", "name_mixed", "姓名不能同时含有汉字和拉丁字母"),
        ("-Anna", "name_format", None),
        ("·", "name_format", "姓名须含有汉字或字母"),
    ],
)
def test_bad_characters_are_refused_with_a_field_error(typed: str, code: str, message: str | None) -> None:
    with pytest.raises(FieldError) as exc:
        clean_name(typed)
    assert (exc.value.field, exc.value.code) == ("name", code)
    if message is not None:
        assert exc.value.message == message


def test_latin_names_keep_their_spelling_and_collapse_spaces() -> None:
    assert clean_name("Mary  Ann O’Brien-Smith") == "Mary Ann O'Brien-Smith"
    assert clean_name("Jose\u0301") == "José"  # a combining accent is composed (NFC)


def _clean(today: date = TODAY, guardians: list[dict[str, Any]] | None = None, **person: Any) -> Any:
    return clean_registration(
        f.person_data(**person),
        f.enrollment_data(grade="3"),
        guardians if guardians is not None else [f.guardian_data()],
        school_stages=["primary"],
        today=today,
    )


LATIN_REFUSED = (
    "姓名“John Smith”为拉丁字母：只有持护照或外国人永久居留身份证的外籍人员可登记外文姓名，"
    "其他人请填写与户籍登记一致的中文姓名"
)


def test_latin_name_needs_a_foreign_document() -> None:
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(name="John Smith")  # 居民身份证
    assert exc.value.fields["name"] == LATIN_REFUSED
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(name="John Smith", id_type="Z", id_number="")  # 其他: no document at all
    assert exc.value.fields["name"] == LATIN_REFUSED
    reg = _clean(
        name="John Smith", id_type="A", id_number="P12345678", nationality="USA", overseas_status="51"
    )
    assert reg.person["name"] == "John Smith"


def test_latin_name_with_a_permanent_resident_card() -> None:
    first17 = (
        "9" + "44" + "840" + "20180314" + "001"
    )  # 2023 card: province, ISO 3166 numeric, birth, sequence
    number = first17 + mod11_2_check_char(first17)
    reg = _clean(name="Emma Brown", id_type="9", id_number=number, nationality="USA", overseas_status="51")
    assert reg.person["name"] == "Emma Brown"


def test_former_name_follows_the_same_rule() -> None:
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(former_name="小明2")
    assert exc.value.fields["former_name"] == "曾用名不能含有数字（“2”）"


def test_family_member_names_follow_the_rule_and_the_students_document() -> None:
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(guardians=[f.guardian_data(name="<张>")])
    assert exc.value.fields["guardians.0.name"] == "姓名不能含有符号“<”"
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(guardians=[f.guardian_data(name="Peter Smith")])
    assert "为拉丁字母" in exc.value.fields["guardians.0.name"]
    # A foreign pupil's parent may be registered in Latin letters without a document type of their own.
    reg = _clean(
        name="Tom Smith",
        id_type="A",
        id_number="P12345678",
        nationality="GBR",
        overseas_status="51",
        guardians=[f.guardian_data(name="Peter Smith")],
    )
    assert reg.guardians[0]["name"] == "Peter Smith"


# ------------------------------------------------------------------------------------------ three paths, one rule
BAD_NAMES = [
    ("王小3", "姓名不能含有数字（“3”）"),
    ("<i>王</i>", "姓名不能含有符号“<”"),
    ("王😀", "姓名不能含有表情或图形符号（“😀”）"),
    ("王\u200b小", "姓名含有不可见的控制字符（U+200B），请删除后重新输入"),
    ("John Smith", LATIN_REFUSED),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_form_api_and_import_refuse_the_same_names_with_the_same_message(  # noqa: PLR0917 - fixtures + parameters
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path, name: str, message: str
) -> None:
    person = f.person_data(name=name)
    assert form_errors(via_form(client, registrar_a, person))["name"] == message
    assert api_errors(via_api(registrar_a, school_a, person))["name"] == message
    batch = via_import(registrar_a, school_a, tmp_path, [import_row(person)])
    assert import_errors(batch) == {"姓名": message}
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_form_api_and_import_store_minority_and_rare_names_exactly(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    response = via_form(client, registrar_a, f.person_data(name="阿卜杜拉•买买提"))
    assert response.status_code == 302
    response = via_api(registrar_a, school_a, f.person_data(name="王\U00020000\U00030000"))
    assert response.status_code == 201
    batch = via_import(registrar_a, school_a, tmp_path, [import_row(f.person_data(name="欧阳娜娜"))])
    assert batch.errors == []
    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_batch_commit(actor=registrar_a, batch=batch)
    names = set(Person.objects.values_list("name", flat=True))
    assert names == {"阿卜杜拉·买买提", "王\U00020000\U00030000", "欧阳娜娜"}


@pytest.mark.django_db
def test_form_and_api_accept_a_latin_name_with_a_passport(
    client: Client, school_a: Any, registrar_a: Any
) -> None:
    foreign = {"id_type": "A", "nationality": "USA", "overseas_status": "51"}
    assert (
        via_form(
            client, registrar_a, f.person_data(name="Emma Brown", id_number="P1234567", **foreign)
        ).status_code
        == 302
    )
    assert (
        via_api(
            registrar_a, school_a, f.person_data(name="Liam Brown", id_number="P7654321", **foreign)
        ).status_code
        == 201
    )
    assert set(Person.objects.values_list("name", flat=True)) == {"Emma Brown", "Liam Brown"}
    assert Guardian.objects.count() == 2
