"""缓学 (第11条): the household county approves; one school year; re-apply to renew; the child is not
registered; the county sees deferrals ending."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.kinds.deferral import deferrals_ending
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.services import change_submit
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.policies.models import ProvinceRuleSet
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 10)
BIRTH = date(2020, 3, 14)  # six on 31 August 2026
OLDER = date(2019, 3, 14)  # six on 31 August 2025


@pytest.fixture
def env(tree):
    c.calendar()
    return {"county": c.dept_registrar("440105"), "haizhu": f.dept("440105"), "tianhe": f.dept("440106")}


def _facts(**kw):
    birth = kw.pop("birth", BIRTH)
    data = {
        "name": "王小虎",
        "gender": "1",
        "birth_date": birth.isoformat(),
        "id_type": "1",
        "id_number": f.resident_id(birth=birth, seq=321),
        "household_code": "440105",
        "applicant_name": "王大虎",
        "reason_text": "身体原因，需康复治疗",
        "evidence": "广州市第一人民医院诊断证明",
    }
    data.update(kw)
    return data


def _defer(env, actor="county", county="haizhu", today=DAY, **kw):
    return change_submit(
        actor=env[actor] if isinstance(actor, str) else actor,
        kind="deferral",
        household_county=env[county] if county else None,
        facts=_facts(**kw),
        today=today,
    )


def test_household_county_grants_one_school_year_and_nothing_is_registered(env):
    persons = Person.objects.count()
    req = _defer(env)
    assert req.state == "approved"
    assert [(s.party, s.state) for s in ApprovalStep.objects.filter(request=req)] == [
        ("household_county", "approved")
    ]
    assert (req.person_id, req.enrollment_id, req.source_path) == (None, None, env["haizhu"].path)
    assert (req.facts["school_year"], req.facts["start_date"], req.facts["end_date"]) == (
        2026,
        "2026-09-01",
        "2027-08-31",
    )
    assert req.facts["renewal_of"] == ""
    assert (Person.objects.count(), Enrollment.objects.count()) == (persons, 0)


def test_renewal_for_the_next_school_year_and_no_second_deferral_for_the_same_year(env):
    first = _defer(env)
    with pytest.raises(Conflict) as exc:
        _defer(env)
    assert exc.value.code == "deferral_exists"
    again = _defer(env, school_year=2027, today=date(2027, 6, 1))
    assert (again.facts["renewal_of"], again.facts["end_date"]) == (str(first.pk), "2028-08-31")


def test_a_child_not_yet_six_on_31_august_needs_no_deferral(env):
    with pytest.raises(ApplicationError) as exc:
        _defer(env, birth=date(2020, 9, 1))
    assert exc.value.code == "not_school_age"


def test_six_exactly_on_31_august_is_school_age(env):
    assert _defer(env, birth=date(2020, 8, 31)).state == "approved"


def test_province_entry_age_seven_where_conditions_lack(env):
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        rules={"school_entry_age": 7},
        filed_on=date(2026, 1, 1),
    )
    with pytest.raises(ApplicationError) as exc:
        _defer(env)
    assert exc.value.code == "not_school_age"
    assert _defer(env, birth=date(2019, 5, 1)).state == "approved"


def test_policy_deferral_months(env):
    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        effective_from=date(2026, 1, 1),
        rules={"deferral_months": 6},
        filed_on=date(2026, 1, 1),
    )
    assert _defer(env).facts["end_date"] == "2027-02-28"


def test_household_must_lie_in_the_approving_county(env):
    with pytest.raises(FieldError) as exc:
        _defer(env, household_code="440106")
    assert exc.value.code == "household_county_mismatch"


def test_only_the_household_countys_registrar_enters_it(env):
    with pytest.raises(NotFound):
        _defer(env, actor=c.dept_registrar("440106"))
    with pytest.raises(Forbidden) as exc:
        _defer(env, actor=c.dept_registrar("440100"))  # the city sees the county but is not the party
    assert exc.value.code == "not_initiator"
    with pytest.raises(NotFound):
        _defer(env, actor=f.registrar(f.school("440105", "primary")))
    assert ChangeRequest.objects.count() == 0


def test_the_household_county_must_be_named(env):
    with pytest.raises(ApplicationError) as exc:
        _defer(env, county=None)
    assert exc.value.code == "party_unresolved"


@pytest.mark.parametrize(
    ("facts", "field", "code"),
    [
        ({"id_number": "440105202003140000"}, "id_number", "id_checksum"),
        ({"birth_date": "2020-03-15"}, "birth_date", "id_birth_mismatch"),
        ({"gender": "2"}, "gender", "id_gender_mismatch"),
        ({"school_year": 2030}, "school_year", "out_of_range"),
    ],
)
def test_identity_of_the_child_is_checked(env, facts, field, code):
    with pytest.raises(FieldError) as exc:
        _defer(env, **facts)
    assert (exc.value.field, exc.value.code) == (field, code)


@pytest.mark.parametrize("missing", ["name", "evidence", "applicant_name", "reason_text", "household_code"])
def test_material_is_required(env, missing):
    """第11条: 应出具相关材料."""
    with pytest.raises(ApplicationError) as exc:
        _defer(env, **{missing: ""})
    assert exc.value.code == "deferral_invalid"
    assert missing in exc.value.fields


def test_an_enrolled_child_cannot_be_deferred(env):
    e = c.enrolled(f.school("440105", "primary"), grade=1)
    p = Person.objects.get(pk=e.person_id)
    with pytest.raises(ApplicationError) as exc:
        _defer(env, name=p.name, birth=p.birth_date, id_number=p.id_number)
    assert exc.value.code == "student_already_enrolled"


def test_child_without_an_identity_number(env):
    req = _defer(env, id_type="Z", id_number="")
    assert (req.facts["id_type"], req.facts["id_number"]) == ("Z", "")
    with pytest.raises(Conflict):
        _defer(env, id_type="Z", id_number="")


def test_deferrals_ending_come_back_onto_the_countys_list(env):
    req = _defer(env, birth=OLDER, school_year=2025, today=date(2025, 6, 1))  # ends 2026-08-31
    county = env["county"]
    assert deferrals_ending(viewer=county, today=date(2026, 7, 1), within_days=30) == []
    [due] = deferrals_ending(viewer=county, today=date(2026, 8, 15), within_days=30)
    assert (due.request.pk, due.name, due.end_date, due.ended) == (req.pk, "王小虎", date(2026, 8, 31), False)
    [ended] = deferrals_ending(viewer=county, today=date(2026, 9, 10), within_days=30)
    assert ended.ended is True
    assert deferrals_ending(viewer=c.dept_registrar("440106"), today=date(2026, 9, 10)) == []


def test_renewed_or_registered_children_leave_the_list(env):
    _defer(env, birth=OLDER, school_year=2025, today=date(2025, 6, 1))
    other = _defer(
        env,
        birth=OLDER,
        school_year=2025,
        today=date(2025, 6, 1),
        name="李小花",
        gender="2",
        id_number=f.resident_id(birth=OLDER, seq=40, gender="2"),
    )
    _defer(env, birth=OLDER, school_year=2026, today=date(2026, 6, 1))  # 王小虎 renewed
    [due] = deferrals_ending(viewer=env["county"], today=date(2026, 8, 15))
    assert due.request.pk == other.pk
    c.enrolled(
        f.school("440105", "primary"),
        grade=1,
        name="李小花",
        gender="2",
        birth_date=OLDER,
        id_number=other.facts["id_number"],
    )
    assert deferrals_ending(viewer=env["county"], today=date(2026, 8, 15)) == []
