"""Age-for-grade plausibility (issue 8 item 4; 第9条, 第11条): a pupil far too young or too old for the grade is
refused; one outside the normal band but inside the allowed band needs a confirmation with a reason; bands per
stage are province policy data (``grade_age`` over the national defaults). Form, API and import apply the same
rule; the reason is kept with the registration, the audit only says that a confirmation happened.

Every test here asks for ``national_grade_age``: the real national bands (tests/conftest.py widens them for the
rest of the suite, whose factories register an eight-year-old in 一年级).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from tests.students.test_names import (
    api_errors,
    form_errors,
    import_errors,
    import_row,
    via_api,
    via_form,
    via_import,
)
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.imports import services as import_services
from xueji.policies.models import ProvinceRuleSet, RuleConfirmation
from xueji.policies.queries import grade_age_rules_for
from xueji.policies.rules import GradeAgeRules
from xueji.students.models import Person
from xueji.students.validation import RegistrationInvalid, clean_registration

pytestmark = pytest.mark.usefixtures("national_grade_age")

TODAY = date(2026, 9, 15)
NATIONAL = GradeAgeRules.from_rules(None)


def _clean(
    birth: date, grade: str = "1", today: date = TODAY, rules: GradeAgeRules = NATIONAL, **enrollment: Any
) -> Any:
    stages = ["primary", "junior", "senior"]
    return clean_registration(
        f.person_data(birth_date=birth),
        f.enrollment_data(grade=grade, entry_ym=enrollment.pop("entry_ym", "202609"), **enrollment),
        [f.guardian_data()],
        school_stages=stages,
        today=today,
        grade_age=rules,
    )


def _refused(birth: date, grade: str = "1", **kwargs: Any) -> dict[str, str]:
    with pytest.raises(RegistrationInvalid) as exc:
        _clean(birth, grade, **kwargs)
    return exc.value.fields


# ------------------------------------------------------------------------------------------ the rule
def test_counting_day_is_31_august_of_the_registrations_school_year() -> None:
    assert NATIONAL.counting_day(date(2026, 9, 15)) == date(2026, 8, 31)
    assert NATIONAL.counting_day(date(2027, 3, 1)) == date(2026, 8, 31)  # spring term: same school year
    assert NATIONAL.counting_day(date(2026, 8, 20)) == date(2026, 8, 31)  # August: the coming school year
    assert NATIONAL.counting_day(date(2026, 7, 10), "202609") == date(
        2026, 8, 31
    )  # July, entering in September
    assert NATIONAL.counting_day(date(2026, 7, 10)) == date(2025, 8, 31)


def test_six_and_seven_year_olds_are_normal_in_grade_one() -> None:
    """第11条: 年满六周岁 (by 31 August), seven where conditions lack."""
    assert _clean(date(2020, 8, 31)).confirmations == {}  # six on 31 August 2026
    assert _clean(date(2019, 9, 1)).confirmations == {}  # still six on 31 August: seven the next day
    assert _clean(date(2019, 3, 1)).confirmations == {}  # seven


def test_a_child_of_fourteen_months_in_grade_one_is_refused() -> None:
    fields = _refused(date(2025, 7, 1))
    assert fields["grade"] == (
        "年级与出生日期明显不符：该生在 2026-08-31 为 1 周岁，一年级学生应为 5–12 周岁（正常为 6–7 周岁；第十一条）。"
        "请核对出生日期和年级"
    )
    assert "age_confirmed" not in fields


def test_far_too_old_is_refused_and_too_old_needs_a_confirmation() -> None:
    assert "grade" in _refused(date(2013, 3, 1))  # 13 in 一年级
    fields = _refused(date(2018, 3, 14))  # 8 in 一年级: two years late
    assert fields == {
        "age_confirmed": "年龄与年级不符：该生在 2026-08-31 为 8 周岁，一年级的正常年龄为 6–7 周岁。请核对出生日期和年级；"
        "如确属实（如缓学、留级、跳级、插班），请确认并填写原因"
    }


def test_one_year_early_needs_a_confirmation() -> None:
    assert set(_refused(date(2021, 5, 1))) == {"age_confirmed"}  # five on 31 August


def test_bands_follow_the_grade_and_the_stage() -> None:
    assert _clean(date(2016, 3, 1), grade="5").confirmations == {}  # 10 in 五年级
    assert _clean(date(2014, 3, 1), grade="7", entry_ym="202609").confirmations == {}  # 12 in 初一
    assert set(_refused(date(2015, 3, 1), grade="7")) == {"age_confirmed"}  # 11 in 初一
    assert (
        _clean(date(2009, 3, 1), grade="10", entry_method="21").confirmations == {}
    )  # 17 in 高一: 普通高中 normal +2
    assert set(_refused(date(2009, 3, 1), grade="7")) == {"age_confirmed"}  # 17 in 初一
    assert "grade" in _refused(date(2016, 3, 1), grade="10", entry_method="21")  # 10 in 高一


def test_confirmation_with_a_reason_is_kept_in_the_cleaned_registration() -> None:
    reg = _clean(date(2018, 3, 14), age_confirmed=True, age_confirm_reason="  因病缓学两年  ")
    assert reg.confirmations == {
        "grade_age": {
            "reason": "因病缓学两年",
            "detail": "2026-08-31 时 8 周岁，一年级正常为 6–7 周岁",
            "version": "national",
        }
    }


@pytest.mark.parametrize(
    ("flag", "reason", "field"),
    [
        (True, "", "age_confirm_reason"),
        ("on", "缓", "age_confirm_reason"),  # too short
        (True, "x" * 201, "age_confirm_reason"),
        (True, "缓学\u202e", "age_confirm_reason"),
        (False, "因病缓学", "age_confirmed"),  # a reason without the confirmation is not one
        ("", "因病缓学", "age_confirmed"),
    ],
)
def test_a_confirmation_needs_the_flag_and_a_real_reason(flag: Any, reason: str, field: str) -> None:
    fields = _refused(date(2018, 3, 14), age_confirmed=flag, age_confirm_reason=reason)
    assert set(fields) == {field}


def test_a_confirmation_cannot_save_an_impossible_age() -> None:
    fields = _refused(date(2025, 7, 1), age_confirmed=True, age_confirm_reason="家长要求")
    assert set(fields) == {"grade"}


def test_an_unneeded_confirmation_is_ignored() -> None:
    assert _clean(date(2020, 3, 1), age_confirmed=True, age_confirm_reason="无").confirmations == {}


def test_an_import_row_confirms_with_its_reason_alone() -> None:
    """A file has no checkbox: a row whose enrollment has only the reason column is confirmed by it."""
    reg = clean_registration(
        f.person_data(birth_date=date(2018, 3, 14)),
        {**f.enrollment_data(), "age_confirm_reason": "插班生"},
        [f.guardian_data()],
        school_stages=["primary"],
        today=TODAY,
        grade_age=NATIONAL,
    )
    assert reg.confirmations["grade_age"]["reason"] == "插班生"


# ------------------------------------------------------------------------------------------ province override
def _rule_set(province: str, rules: dict[str, Any], version: int = 1) -> ProvinceRuleSet:
    return ProvinceRuleSet.objects.create(
        province_code=province,
        version=version,
        effective_from=date(2026, 1, 1),
        rules=rules,
        filed_on=date(2026, 1, 1),
        filing_reference="粤教基〔2026〕1号",
    )


@pytest.mark.django_db
def test_province_bands_override_the_national_default_per_stage() -> None:
    _rule_set("440000", {"grade_age": {"primary": {"normal": [0, 2], "allowed": [0, 4]}}})
    guangdong = grade_age_rules_for("440000", TODAY)
    assert guangdong.version == "440000-v1"
    assert _clean(date(2018, 3, 14), rules=guangdong).confirmations == {}  # 8 in 一年级: normal in Guangdong
    assert set(_refused(date(2021, 5, 1), rules=guangdong)) == {"grade"}  # 5: no early entry in Guangdong
    assert guangdong.bands["junior"] == NATIONAL.bands["junior"]  # stages not overridden stay national
    beijing = grade_age_rules_for("110000", TODAY)
    assert beijing == NATIONAL


@pytest.mark.django_db
def test_province_school_entry_age_of_seven_shifts_every_grade() -> None:
    """第11条: 条件不具备的地区的儿童，可以推迟到七周岁 — the province sets 7 and every grade follows."""
    _rule_set("440000", {"school_entry_age": 7})
    rules = grade_age_rules_for("440000", TODAY)
    assert rules.expected_age(1) == 7 and rules.expected_age(10) == 16
    assert _clean(date(2018, 3, 14), rules=rules).confirmations == {}  # 8: normal (7–8)
    assert set(_refused(date(2020, 8, 1), rules=rules)) == {"age_confirmed"}  # 6: one year early


@pytest.mark.django_db
def test_an_unfiled_or_future_rule_set_does_not_bind() -> None:
    ProvinceRuleSet.objects.create(
        province_code="440000", version=1, effective_from=date(2026, 1, 1), rules={"school_entry_age": 7}
    )  # not filed with the ministry
    later = _rule_set("440000", {"school_entry_age": 7}, version=2)
    ProvinceRuleSet.objects.filter(pk=later.pk).update(effective_from=date(2027, 1, 1))
    assert grade_age_rules_for("440000", TODAY) == NATIONAL
    assert grade_age_rules_for("440000", date(2027, 1, 1)).entry_age == 7


@pytest.mark.django_db
def test_an_invalid_stored_rule_falls_back_to_the_national_rule(caplog: Any) -> None:
    _rule_set("440000", {"grade_age": {"primary": {"normal": [2, 1]}}})
    assert grade_age_rules_for("440000", TODAY) == NATIONAL
    assert "invalid grade_age rule" in caplog.text


# ------------------------------------------------------------------------------------------ the three paths
def _birth_for(age: int) -> date:
    """A birth date giving ``age`` on the counting day of a registration made today (the paths use the clock)."""
    day = NATIONAL.counting_day(timezone.localdate(), "202609")
    return date(day.year - age, 3, 1)


@pytest.mark.django_db
def test_form_api_and_import_refuse_an_impossible_age_the_same_way(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path
) -> None:
    person = f.person_data(birth_date=_birth_for(1))
    message = form_errors(via_form(client, registrar_a, person))["grade"]
    assert message.startswith("年级与出生日期明显不符：该生在 ")
    assert "为 1 周岁，一年级学生应为 5–12 周岁" in message
    assert api_errors(via_api(registrar_a, school_a, person))["grade"] == message
    batch = via_import(registrar_a, school_a, tmp_path, [import_row(person)])
    assert import_errors(batch) == {"年级": message}
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_form_api_and_import_ask_for_the_same_confirmation(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path
) -> None:
    person = f.person_data(birth_date=_birth_for(8))
    response = via_form(client, registrar_a, person)
    message = form_errors(response)["age_confirmed"]
    assert "为 8 周岁，一年级的正常年龄为 6–7 周岁" in message
    html = response.content.decode()
    assert (
        'id="sec-age-confirm"' in html
        and 'name="age_confirmed"' in html
        and 'name="age_confirm_reason"' in html
    )
    assert api_errors(via_api(registrar_a, school_a, person))["age_confirmed"] == message
    batch = via_import(registrar_a, school_a, tmp_path, [import_row(person)])
    assert import_errors(batch) == {"年龄核实原因": message}
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_the_form_hides_the_confirmation_until_it_is_needed(client: Client, registrar_a: Any) -> None:
    client.force_login(registrar_a)
    assert 'id="sec-age-confirm"' not in client.get(reverse("students:register")).content.decode()
    response = via_form(
        client, registrar_a, f.person_data(name="王小3", birth_date=_birth_for(6))
    )  # age normal
    assert 'id="sec-age-confirm"' not in response.content.decode()


def _confirmed(person: Person) -> RuleConfirmation:
    return RuleConfirmation.objects.get(person_id=person.pk)


@pytest.mark.django_db
def test_form_api_and_import_register_a_confirmed_pupil_and_keep_the_reason(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    enrollment = {**f.enrollment_data(), "age_confirmed": "on", "age_confirm_reason": "因病缓学两年"}
    response = via_form(
        client, registrar_a, f.person_data(name="王缓学", birth_date=_birth_for(8)), enrollment
    )
    assert response.status_code == 302
    body = {**f.enrollment_data(), "age_confirmed": True, "age_confirm_reason": "随迁插班"}
    assert (
        via_api(
            registrar_a, school_a, f.person_data(name="李插班", birth_date=_birth_for(8)), body
        ).status_code
        == 201
    )
    row = import_row(f.person_data(name="赵留级", birth_date=_birth_for(8)), 年龄核实原因="留级一年")
    batch = via_import(registrar_a, school_a, tmp_path, [row])
    assert batch.errors == []
    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_batch_commit(actor=registrar_a, batch=batch)  # reuses the dry run's rows

    reasons = {}
    for person in Person.objects.all():
        confirmation = _confirmed(person)
        enrollment_id = person.enrollments.get().pk
        assert (confirmation.rule, confirmation.enrollment_id) == ("grade_age", enrollment_id)
        assert (confirmation.confirmed_by_id, confirmation.province_code) == (registrar_a.pk, "440000")
        assert confirmation.scope_path == school_a.org.path
        assert "一年级正常为 6–7 周岁" in confirmation.detail
        reasons[person.name] = confirmation.reason
        event = AuditEvent.objects.get(event_type=EventType.STUDENT_REGISTERED, subject_id=str(person.pk))
        assert event.after is not None
        assert event.after["confirmations"] == [{"kind": "grade_age"}]
        assert confirmation.reason not in str(event.after) and confirmation.reason not in event.summary
    assert reasons == {"王缓学": "因病缓学两年", "李插班": "随迁插班", "赵留级": "留级一年"}
    # The record shows the confirmation and its reason to whoever may open it.
    client.force_login(registrar_a)
    page = client.get(
        reverse("students:detail", args=[Person.objects.get(name="王缓学").pk])
    ).content.decode()
    assert 'data-testid="rule-confirmation"' in page and "因病缓学两年" in page


@pytest.mark.django_db
def test_a_normal_registration_writes_no_confirmation(school_a: Any, registrar_a: Any) -> None:
    assert via_api(registrar_a, school_a, f.person_data(birth_date=_birth_for(6))).status_code == 201
    assert RuleConfirmation.objects.count() == 0
    event = AuditEvent.objects.get(event_type=EventType.STUDENT_REGISTERED)
    assert event.after is not None and "confirmations" not in event.after


@pytest.mark.django_db
def test_the_paths_apply_the_provinces_bands(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path
) -> None:
    """A Guangdong rule set widening 小学 makes an eight-year-old normal in every path."""
    _rule_set("440000", {"grade_age": {"primary": {"normal": [0, 2], "allowed": [-1, 6]}}})
    assert (
        via_form(client, registrar_a, f.person_data(name="甲乙", birth_date=_birth_for(8))).status_code == 302
    )
    assert (
        via_api(registrar_a, school_a, f.person_data(name="丙丁", birth_date=_birth_for(8))).status_code
        == 201
    )
    batch = via_import(registrar_a, school_a, tmp_path, [import_row(f.person_data(birth_date=_birth_for(8)))])
    assert batch.errors == []
    assert RuleConfirmation.objects.count() == 0
