"""``manage.py seed``: the demo region, its logins and realistic students (xueji/students/demo.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from xueji.accounts.enums import Role
from xueji.accounts.models import RegistrarFiling, RoleGrant, User
from xueji.audit.models import AuditEvent
from xueji.regions import divisions
from xueji.regions.models import OrgUnit
from xueji.schools.enums import SchoolType
from xueji.schools.models import School
from xueji.schools.validators import validate_school_code
from xueji.students import demo, enums
from xueji.students.identity import check_identity_matches, validate_identity
from xueji.students.models import Enrollment, Guardian, IdentityKey, Person, ProblemRecord, StudentNumber
from xueji.students.numbers import validate_student_number
from xueji.students.validation import clean_registration

TODAY = date(2026, 11, 27)
USERNAMES = [
    "national_admin",
    "gd_province",
    "gz_city",
    "haizhu_county",
    "school_registrar",
    "security_admin",
    "audit_admin",
    "system_admin",
]


def _seed(students: int = 60, *, all_departments: bool = False) -> str:
    out = StringIO()
    call_command(
        "seed", students=students, today=TODAY, demo_departments_only=not all_departments, stdout=out
    )
    return out.getvalue()


@pytest.fixture
def seeded(db):  # type: ignore[no-untyped-def]
    return _seed()


# ---- the command against the database -------------------------------------------------------------------


def test_seed_prints_every_login_with_the_demo_password(seeded):
    for username in USERNAMES:
        assert username in seeded
    assert demo.DEMO_PASSWORD in seeded
    assert "广州市海珠区新港路小学" in seeded


def test_logins_one_per_level_none_superuser_password_usable(seeded):
    users = {u.username: u for u in User.objects.all()}
    assert sorted(users) == sorted(USERNAMES)
    for user in users.values():
        assert user.is_superuser is False
        assert user.is_staff is False
        assert user.must_change_password is False
        assert user.password_changed_at is not None
        assert user.display_name != ""
        assert user.check_password(demo.DEMO_PASSWORD)
    assert users["school_registrar"].org_unit.name == "广州市海珠区新港路小学"
    assert users["gz_city"].org_unit.code == "440100"
    grants = {
        g.user.username: (g.role, g.org_unit) for g in RoleGrant.objects.select_related("user", "org_unit")
    }
    assert grants["national_admin"][0] == Role.DEPT_REGISTRAR
    assert grants["national_admin"][1].level == "national"
    assert (grants["gd_province"][1].level, grants["gd_province"][1].code) == ("province", "440000")
    assert (grants["gz_city"][1].level, grants["gz_city"][1].code) == ("city", "440100")
    assert (grants["haizhu_county"][1].level, grants["haizhu_county"][1].code) == ("county", "440105")
    assert grants["school_registrar"][0] == Role.SCHOOL_REGISTRAR
    assert grants["school_registrar"][1].name == "广州市海珠区新港路小学"
    assert grants["security_admin"][0] == Role.SECURITY_ADMIN
    assert grants["audit_admin"][0] == Role.AUDIT_ADMIN
    assert grants["system_admin"][0] == Role.SYSTEM_ADMIN


def test_registrars_are_filed_with_the_unit_above_and_trained(seeded):
    """第22条: registrars are filed (备案) with the department above and trained before taking the post."""
    filings = {f.user.username: f for f in RegistrarFiling.objects.select_related("user", "filed_with")}
    assert sorted(filings) == [
        "gd_province",
        "gz_city",
        "haizhu_county",
        "national_admin",
        "school_registrar",
    ]
    assert filings["school_registrar"].filed_with.code == "440105"
    assert filings["haizhu_county"].filed_with.code == "440100"
    assert filings["gz_city"].filed_with.code == "440000"
    assert filings["gd_province"].filed_with.level == "national"
    for filing in filings.values():
        assert filing.trained_on is not None
        assert filing.trained_on <= filing.filed_on
        assert (filing.trained_on.year, filing.trained_on.month) == (2026, 1)


@pytest.mark.django_db
def test_all_departments_of_the_country_are_loaded_by_default():
    _seed(0, all_departments=True)
    assert OrgUnit.objects.filter(level="province").count() == sum(
        1 for d in divisions.all_divisions() if d.level == "province"
    )
    assert OrgUnit.objects.filter(level="county", code="110119").exists()


def test_schools_have_valid_codes_and_every_kind_is_present(seeded):
    schools = list(School.objects.all())
    assert len(schools) == len(demo.BASE_SCHOOLS)
    for school in schools:
        assert (
            validate_school_code(
                school.school_code, school_type=school.school_type, province_code=school.province_code
            )
            == school.school_code
        )
    kinds = {s.school_type for s in schools}
    assert {
        SchoolType.PRIMARY,
        SchoolType.JUNIOR,
        SchoolType.NINE_YEAR,
        SchoolType.SENIOR,
        SchoolType.SPECIAL,
        SchoolType.REFORM,
        SchoolType.TEACHING_POINT,
    } <= kinds
    point = School.objects.get(school_type=SchoolType.TEACHING_POINT)
    assert point.central_school is not None
    assert point.org.parent_id == point.central_school.org_id
    assert {s.county_code for s in schools} == {"440105", "440106", "110119"}


def test_sixty_students_with_valid_identity_documents(seeded):
    persons = list(Person.objects.all())
    assert len(persons) == 60
    for p in persons:
        parsed = validate_identity(
            p.id_type, p.id_number, today=TODAY, known_region=divisions.is_known_address_code
        )
        check_identity_matches(parsed, birth_date=p.birth_date, gender=p.gender)
        if p.id_type == "1":
            assert parsed.birth_date == p.birth_date
            assert parsed.gender == p.gender
            assert divisions.is_current_county(p.id_number[:6])
            assert p.nationality == "CHN"
            assert p.student_number == "G" + p.id_number
        else:
            assert p.student_number.startswith("J")
        assert validate_student_number(p.student_number, today=TODAY) == p.student_number[0]


def test_student_numbers_and_identity_keys_are_unique(seeded):
    numbers = [p.student_number for p in Person.objects.all()]  # stored encrypted: read through the model
    assert len(numbers) == len(set(numbers)) == 60 and all(n[0] in "GJL" for n in numbers)
    assert StudentNumber.objects.count() == 60
    with_id = Person.objects.exclude(id_type="Z").count()
    assert IdentityKey.objects.count() == with_id


def test_every_student_has_a_guardian_and_one_active_enrollment(seeded):
    for p in Person.objects.all():
        members = list(Guardian.objects.filter(person=p))
        assert 1 <= len(members) <= 2
        assert any(g.is_guardian for g in members)
        assert all(g.phone and g.name for g in members)
    assert Enrollment.objects.filter(is_active=True).count() == 60


def test_ages_and_entry_dates_fit_the_grade(seeded):
    """Grade g in the school year starting September 2026: born 2026-6-g-09 … 2026-5-g-08; entry at the start
    of the stage."""
    for e in Enrollment.objects.select_related("person", "school"):
        born = e.person.birth_date
        assert date(2026 - 6 - e.grade, 9, 1) <= born <= date(2026 - 5 - e.grade, 8, 31)
        first = {"primary": 1, "junior": 7, "senior": 10}[e.stage]
        assert e.entry_ym == f"{2026 - (e.grade - first)}09"
        assert e.stage in e.school.stages
        assert e.stage == enums.stage_for_grade(e.grade).value


def test_suspected_duplicates_and_overdue_archives_for_the_worklists(seeded):
    """第9条: no-ID students with the same name, sex and birth date are flagged; 第6条: archives overdue."""
    problems = list(ProblemRecord.objects.select_related("person", "other_person"))
    assert len(problems) == 2
    for problem in problems:
        assert problem.kind == ProblemRecord.Kind.SUSPECTED_DUPLICATE
        a, b = problem.person, problem.other_person
        assert (a.name, a.gender, a.birth_date) == (b.name, b.gender, b.birth_date)
        assert a.id_type == b.id_type == "Z"
        school_a = Enrollment.objects.get(person=a).school
        school_b = Enrollment.objects.get(person=b).school
        assert school_a != school_b
        assert school_a.county_code == school_b.county_code
    overdue = Enrollment.objects.filter(archive_due__lt=TODAY, archive_completed_at__isnull=True)
    assert overdue.count() == 6
    assert {e.school.name for e in overdue} == {"广州市海珠区新港路小学"}


def test_registration_is_audited_as_the_system(seeded):
    events = AuditEvent.objects.filter(event_type="student.registered")
    assert events.count() == 60
    assert set(events.values_list("actor_username", flat=True)) == {"system"}


def test_second_run_creates_nothing_and_prints_the_logins(seeded):
    before = {m.__name__: m.objects.count() for m in (User, School, OrgUnit, Person, Guardian, AuditEvent)}
    out = _seed()
    after = {m.__name__: m.objects.count() for m in (User, School, OrgUnit, Person, Guardian, AuditEvent)}
    assert after == before
    assert "演示数据已存在" in out
    for username in USERNAMES:
        assert username in out


@pytest.mark.django_db
def test_zero_students_still_makes_the_region_and_logins():
    out = _seed(0)
    assert Person.objects.count() == 0
    assert User.objects.count() == len(USERNAMES)
    assert "school_registrar" in out


# ---- the generator (no database) --------------------------------------------------------------------------


def _raw(n: int, seed: int = 7) -> list[tuple[dict, dict, list[dict]]]:
    maker = demo.StudentMaker(seed=seed, today=TODAY)
    out = []
    for i in range(n):
        slot = demo.Slot("x", ("440105", "440106", "110119")[i % 3], i % 12 + 1)
        out.append(maker.registration(slot, SchoolType.TWELVE_YEAR))
    return out


def test_generator_is_deterministic_for_a_seed():
    assert _raw(50, seed=3) == _raw(50, seed=3)
    assert _raw(50, seed=3) != _raw(50, seed=4)


def test_generated_rows_pass_validation_and_have_realistic_shares():
    rows = _raw(2000)
    stages = ["primary", "junior", "senior"]
    cleaned = [clean_registration(p, e, g, school_stages=stages, today=TODAY) for p, e, g in rows]
    types = Counter(r.person["id_type"] for r in cleaned)
    assert 0.02 * 2000 <= types["Z"] <= 0.04 * 2000
    assert 0.005 * 2000 <= types["H"] <= 0.015 * 2000
    assert 0.002 * 2000 <= types["A"] <= 0.01 * 2000
    han = sum(1 for r in cleaned if r.person["ethnicity"] == "01")
    assert han >= 0.9 * 2000
    migrants = sum(1 for r in cleaned if r.person["migrant_child"])
    assert 0.15 * 2000 <= migrants <= 0.40 * 2000
    for r in cleaned:
        if r.person["id_type"] == "H":
            assert r.person["id_number"][:6] in {"810000", "820000", "830000"}
            assert r.person["nationality"] in {"HKG", "MAC", "TWN"}
            assert r.person["overseas_status"] in {"01", "03", "05"}
        if r.person["id_type"] == "A":
            assert r.person["overseas_status"] == "51"
            assert r.person["nationality"] not in {"CHN", "HKG", "MAC", "TWN"}
        if r.person["migrant_child"]:
            assert r.person["left_behind"] == "0"


def test_resident_id_sequence_is_a_counter_not_a_retry():
    maker = demo.StudentMaker(seed=1, today=TODAY)
    numbers = [maker.resident_id("440105", "20180314", "2") for _ in range(499)]
    assert len(set(numbers)) == 499
    assert all(int(n[16]) % 2 == 0 for n in numbers)
    with pytest.raises(RuntimeError):
        maker.resident_id("440105", "20180314", "2")
    males = {maker.resident_id("440105", "20180314", "1") for _ in range(500)}
    assert len(males) == 500
    assert all(int(n[16]) % 2 == 1 for n in males)


def test_large_runs_add_numbered_schools_with_unique_valid_codes():
    plan = demo._school_plan(1_000_000)
    assert len(plan) > 600
    codes = demo.school_codes(plan)
    for spec in plan:
        code = codes[spec.key]
        assert (
            validate_school_code(code, school_type=spec.school_type, province_code=spec.county[:2] + "0000")
            == code
        )
    assert len(set(codes.values())) == len(plan)
    assert len({s.name for s in plan}) == len(plan)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "一"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (35, "三十五"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
        (234, "二百三十四"),
    ],
)
def test_chinese_school_numbers(n, text):
    assert demo._cn_number(n) == text
