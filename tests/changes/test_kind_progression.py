"""升学 (第14条): 三方核办, first grade of the next stage, same person and 学籍号, cross-province windows;
whole-cohort progression."""

from datetime import date

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes.kinds.graduation import graduate_cohort
from xueji.changes.kinds.progression import cohort_candidates, progress_cohort, progression_lookup
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.queries import change_get
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.students.models import Enrollment, Person, StudentNumber

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)  # inside the 15 Aug–14 Dec cross-province window


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary", name="海珠一小")
    junior = f.school("440105", "junior", name="海珠一中")
    tianhe = f.school("440106", "junior", name="天河一中")
    beijing = f.school("110105", "junior", name="朝阳一中")
    return {
        "primary": primary,
        "junior": junior,
        "tianhe": tianhe,
        "beijing": beijing,
        "reg_p": f.registrar(primary),
        "reg_j": f.registrar(junior),
        "reg_t": f.registrar(tianhe),
        "reg_b": f.registrar(beijing),
        "haizhu": c.dept_registrar("440105"),
        "tianhe_dept": c.dept_registrar("440106"),
        "chaoyang": c.dept_registrar("110105"),
    }


def _facts(**kw):
    data = {"class_name": "初一(3)班", "admission_ref": "2026年海珠区初中招生录取名单"}
    data.update(kw)
    return data


def _progress(env, e, target="junior", actor="reg_j", today=DAY, **facts):
    return change_submit(
        actor=env[actor],
        kind="progression",
        enrollment=e,
        target_school=env[target],
        facts=_facts(**facts),
        today=today,
    )


def _steps(req):
    return [
        (s.party, s.org_unit.name, s.state)
        for s in ApprovalStep.objects.filter(request=req).select_related("org_unit")
    ]


def test_three_party_chain_moves_the_student_to_grade_7_keeping_person_and_number(env):
    e = c.enrolled(env["primary"], grade=6)
    person = Person.objects.get(pk=e.person_id)
    req = _progress(
        env, e, target="tianhe", actor="reg_t", student_number=person.student_number, name=person.name
    )
    assert [(p, s) for p, _, s in _steps(req)] == [
        ("target_school", "approved"),
        ("target_dept", "pending"),
        ("school_dept", "waiting"),
    ]
    # The graduating school's department sees the request (the request carries the old record's path).
    assert change_get(viewer=env["haizhu"], request_id=req.pk).pk == req.pk
    change_decide(actor=env["tianhe_dept"], request=req, action="approve", today=DAY)
    req = change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    assert req.state == "approved"
    old = Enrollment.objects.get(pk=e.pk)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    assert (old.status, old.is_active) == ("07", False)
    assert (new.school_id, new.stage, new.grade, new.class_name, new.status) == (
        env["tianhe"].pk,
        "junior",
        7,
        "初一(3)班",
        "01",
    )
    assert (new.entry_ym, new.entry_method) == ("202609", "11")
    assert Person.objects.get(pk=e.person_id).student_number == person.student_number
    assert StudentNumber.objects.get(person_id=e.person_id).number == StudentNumber.key_for(
        person.student_number
    )
    assert req.facts["archive_handover"] == {
        "from_school_id": env["primary"].pk,
        "to_school_id": env["tianhe"].pk,
        "documents": 0,
        "on": "2026-09-24",
    }


def test_junior_graduate_goes_to_grade_10_with_a_senior_entry_method(env):
    senior = f.school("440105", "senior")
    reg = f.registrar(senior)
    e = c.enrolled(env["junior"], grade=9)
    req = change_submit(
        actor=reg,
        kind="progression",
        enrollment=e,
        target_school=senior,
        facts=_facts(entry_method="22"),
        today=DAY,
    )
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    assert (new.school_id, new.stage, new.grade, new.entry_method) == (senior.pk, "senior", 10, "22")


def test_entry_method_must_fit_the_new_stage(env):
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises(FieldError) as exc:
        _progress(env, e, entry_method="21")
    assert exc.value.code == "invalid_code"


def test_only_the_admitting_school_starts_it(env):
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises((Forbidden, NotFound)):
        _progress(env, e, actor="reg_p")


def test_only_the_graduating_grade_progresses(env):
    e = c.enrolled(env["primary"], grade=5)
    with pytest.raises(ApplicationError) as exc:
        _progress(env, e)
    assert exc.value.code == "not_graduating_grade"


def test_no_progression_after_senior_high(env):
    senior = f.school("440105", "senior")
    e = c.enrolled(senior, grade=12)
    with pytest.raises(ApplicationError) as exc:
        _progress(env, e)
    assert exc.value.code == "no_next_stage"


def test_admitting_school_must_teach_the_next_stage(env):
    other_primary = f.school("440105", "primary")
    reg = f.registrar(other_primary)
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises(FieldError) as exc:
        change_submit(
            actor=reg,
            kind="progression",
            enrollment=e,
            target_school=other_primary,
            facts=_facts(),
            today=DAY,
        )
    assert (exc.value.code, exc.value.field) == ("stage_not_taught", "target_school")


def test_within_one_school_it_is_promotion_not_progression(env):
    nine = f.school("440105", "nine_year")
    reg = f.registrar(nine)
    e = c.enrolled(nine, grade=6)
    with pytest.raises(FieldError) as exc:
        change_submit(
            actor=reg, kind="progression", enrollment=e, target_school=nine, facts=_facts(), today=DAY
        )
    assert exc.value.code == "same_school"


@pytest.mark.parametrize(
    ("field", "facts"), [("admission_ref", {"admission_ref": ""}), ("class_name", {"class_name": ""})]
)
def test_admission_basis_and_class_are_required(env, field, facts):
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises(FieldError) as exc:
        _progress(env, e, **facts)
    assert (exc.value.field, exc.value.code) == (field, "required")


def test_name_must_match_the_record(env):
    e = c.enrolled(env["primary"], grade=6)
    with pytest.raises(FieldError) as exc:
        _progress(env, e, name="李四")
    assert exc.value.code == "name_mismatch"


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        (date(2026, 8, 14), False),
        (date(2026, 8, 17), True),
        (date(2026, 12, 14), True),
        (date(2026, 12, 15), False),
        (date(2027, 2, 26), False),
        (date(2027, 3, 1), True),
        (date(2027, 5, 31), True),
        (date(2027, 6, 1), False),
    ],
)
def test_cross_province_progression_only_in_the_windows(env, today, allowed):
    e = c.enrolled(env["primary"], grade=6)
    if allowed:
        req = _progress(env, e, target="beijing", actor="reg_b", today=today)
        assert req.scope == "cross_province"
    else:
        with pytest.raises(ApplicationError) as exc:
            _progress(env, e, target="beijing", actor="reg_b", today=today)
        assert exc.value.code == "progression_window"
        assert ChangeRequest.objects.count() == 0


def test_cross_province_progression_rehomes_the_person(env):
    e = c.enrolled(env["primary"], grade=6)
    req = _progress(env, e, target="beijing", actor="reg_b")
    change_decide(actor=env["chaoyang"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    assert (new.school_id, new.province_code) == (env["beijing"].pk, "110000")
    assert Person.objects.get(pk=e.person_id).province_code == "110000"


def test_rejection_by_the_graduating_department_leaves_the_record(env):
    e = c.enrolled(env["primary"], grade=6)
    before = Enrollment.objects.filter(pk=e.pk).values().get()
    req = _progress(env, e)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="reject", comment="未按录取名单报到", today=DAY)
    assert Enrollment.objects.filter(pk=e.pk).values().get() == before
    assert Enrollment.objects.filter(person_id=e.person_id).count() == 1


def test_lookup_needs_number_and_name_and_finds_graduates(env):
    e = c.enrolled(env["primary"], grade=6)
    person = Person.objects.get(pk=e.person_id)
    assert progression_lookup(student_number=person.student_number, name=person.name).pk == e.pk
    with pytest.raises(NotFound):
        progression_lookup(student_number=person.student_number, name="别人")
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2026, 6, 30))
    found = progression_lookup(student_number=person.student_number, name=person.name)
    assert (found.pk, found.status, found.is_active) == (e.pk, "07", False)


def test_graduated_student_progresses(env):
    e = c.enrolled(env["primary"], grade=6)
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2026, 6, 30))
    person = Person.objects.get(pk=e.person_id)
    found = progression_lookup(student_number=person.student_number, name=person.name)
    req = _progress(env, found, target="tianhe", actor="reg_t")
    assert (req.enrollment_id, req.source_path, req.facts["graduated"]) == (
        e.pk,
        env["primary"].org.path,
        True,
    )
    assert change_get(viewer=env["haizhu"], request_id=req.pk).pk == req.pk
    change_decide(actor=env["tianhe_dept"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    old = Enrollment.objects.get(pk=e.pk)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    assert (old.status, old.is_active, new.school_id, new.grade) == ("07", False, env["tianhe"].pk, 7)


def test_cohort_candidates_are_this_years_graduates_not_yet_enrolled_again(env):
    old_grad = c.enrolled(env["primary"], grade=6, name="往届")
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2025, 6, 30))
    moved_on = c.enrolled(env["primary"], grade=6, name="已升学")
    this_year = c.enrolled(env["primary"], grade=6, name="应届")
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2026, 6, 30))
    # "已升学" has been registered at a junior school since graduating (same person): not a candidate any more.
    again = c.enrolled(
        env["junior"], grade=7, name="已升学", id_number=Person.objects.get(pk=moved_on.person_id).id_number
    )
    assert again.person_id == moved_on.person_id
    still = c.enrolled(env["primary"], grade=6, name="在读")
    got = cohort_candidates(school=env["primary"], grade=6, today=DAY)
    assert [e.pk for e in got] == [still.pk, this_year.pk]
    assert old_grad.pk not in [e.pk for e in got]


def test_progress_cohort_submits_each_and_reports_the_skipped(env):
    a = c.enrolled(env["primary"], grade=6, name="甲")
    b = c.enrolled(env["primary"], grade=6, name="乙")
    busy = c.enrolled(env["primary"], grade=6, name="丙")
    c.enrolled(env["primary"], grade=5, name="丁")
    change_submit(
        actor=env["reg_p"],
        kind="suspension",
        enrollment=busy,
        facts={
            "start_date": "2026-09-24",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=DAY,
    )
    result = progress_cohort(
        actor=env["reg_j"],
        from_school=env["primary"],
        to_school=env["junior"],
        grade=6,
        class_name="初一(1)班",
        today=DAY,
    )
    assert sorted(r.enrollment_id for r in result.submitted) == sorted([a.pk, b.pk])
    assert {(r.kind, r.state, r.facts["class_name"]) for r in result.submitted} == {
        ("progression", "pending", "初一(1)班")
    }
    [skip] = result.skipped
    assert (skip.enrollment_id, skip.code) == (busy.pk, "request_in_flight")


def test_progress_cohort_takes_the_graduated_cohort(env):
    a = c.enrolled(env["primary"], grade=6, name="甲")
    b = c.enrolled(env["primary"], grade=6, name="乙")
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2026, 6, 30))
    result = progress_cohort(
        actor=env["reg_j"],
        from_school=env["primary"],
        to_school=env["junior"],
        grade=6,
        class_name="初一(1)班",
        today=DAY,
    )
    assert (sorted(r.enrollment_id for r in result.submitted), result.skipped) == (sorted([a.pk, b.pk]), [])


def test_progress_cohort_rules(env):
    with pytest.raises(FieldError) as exc:
        progress_cohort(
            actor=env["reg_j"],
            from_school=env["primary"],
            to_school=env["junior"],
            grade=5,
            class_name="1班",
            today=DAY,
        )
    assert exc.value.code == "no_next_stage"
    with pytest.raises((Forbidden, NotFound)):
        progress_cohort(
            actor=env["reg_p"],
            from_school=env["primary"],
            to_school=env["junior"],
            grade=6,
            class_name="1班",
            today=DAY,
        )


def test_a_graduate_enrolled_again_cannot_progress_twice(env):
    e = c.enrolled(env["primary"], grade=6)
    graduate_cohort(actor=env["reg_p"], school=env["primary"], grade=6, today=date(2026, 6, 30))
    req = _progress(env, Enrollment.objects.get(pk=e.pk))
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    with pytest.raises(ApplicationError) as exc:
        _progress(env, Enrollment.objects.get(pk=e.pk), target="tianhe", actor="reg_t")
    assert exc.value.code == "student_already_enrolled"


# --- issue #6 §3.1: the graduating school of a whole-cohort progression is a party the caller must reach ----


@pytest.mark.parametrize(("target", "actor"), [("beijing", "reg_b"), ("tianhe", "reg_t")])
def test_progress_cohort_refuses_a_graduating_school_outside_the_admitting_department(env, target, actor):
    """Another province's (or another county's) admitting school cannot name 海珠一小's grade 6 as a cohort:
    404, nothing created, no names — one by one by 学籍号 + 姓名 is the only way across departments."""
    from xueji.audit.models import AuditEvent

    busy = c.enrolled(env["primary"], grade=6, name="丙")
    c.enrolled(env["primary"], grade=6, name="甲")
    change_submit(
        actor=env["reg_p"],
        kind="suspension",
        enrollment=busy,
        facts={
            "start_date": "2026-09-24",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=DAY,
    )
    requests_before, events_before = ChangeRequest.objects.count(), AuditEvent.objects.count()
    with pytest.raises(NotFound):
        progress_cohort(
            actor=env[actor],
            from_school=env["primary"],
            to_school=env[target],
            grade=6,
            class_name="初一(1)班",
            today=DAY,
        )
    assert (ChangeRequest.objects.count(), AuditEvent.objects.count()) == (requests_before, events_before)


def test_cohort_preview_is_scoped_like_the_submission(env):
    from xueji.changes.kinds.progression import cohort_preview

    a = c.enrolled(env["primary"], grade=6, name="甲")
    got = cohort_preview(
        actor=env["reg_j"], from_school=env["primary"], to_school=env["junior"], grade=6, today=DAY
    )
    assert [e.pk for e in got] == [a.pk]
    with pytest.raises(NotFound):
        cohort_preview(
            actor=env["reg_b"], from_school=env["primary"], to_school=env["beijing"], grade=6, today=DAY
        )
    with pytest.raises((Forbidden, NotFound)):
        cohort_preview(
            actor=env["reg_p"], from_school=env["primary"], to_school=env["junior"], grade=6, today=DAY
        )


def test_cohort_progression_api_answers_404_for_a_graduating_school_in_another_province(env):
    """POST /api/v1/changes/cohorts/progression as 朝阳一中's registrar naming 海珠一小: 404 in the one error
    shape, no pupil's name or code in the body, nothing created."""
    from tests.api.conftest import Api
    from xueji.audit.models import AuditEvent

    c.enrolled(env["primary"], grade=6, name="甲乙丙")
    events_before = AuditEvent.objects.count()
    response = Api(env["reg_b"]).post(
        "/api/v1/changes/cohorts/progression",
        {
            "from_school_id": env["primary"].pk,
            "to_school_id": env["beijing"].pk,
            "grade": 6,
            "class_name": "初一1班",
        },
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "甲" not in response.content.decode()
    assert (ChangeRequest.objects.count(), AuditEvent.objects.count()) == (0, events_before)


def test_cohort_progression_page_answers_404_for_a_graduating_school_in_another_province(env, client):
    """The page neither previews another province's pupils nor submits them."""
    from django.urls import reverse

    c.enrolled(env["primary"], grade=6, name="甲乙丙")
    client.force_login(env["reg_b"])
    url = reverse("changes:cohort_progression")
    data = {"from_school_code": env["primary"].school_code, "grade": "6", "class_name": "初一1班"}
    preview = client.post(url, data)
    assert preview.status_code == 404
    assert "甲" not in preview.content.decode()
    done = client.post(url, {**data, "confirm": "1"})
    assert done.status_code == 404
    assert ChangeRequest.objects.count() == 0


def test_progression_freezes_the_graduating_schools_copy(env):
    """Issue #6 §3.5: like a transfer, 升学 ends the record at one school and continues it at another, so the
    graduating school keeps a snapshot taken at the move; the admitting school's record has none."""
    from xueji.students.models import EnrollmentSnapshot

    e = c.enrolled(env["primary"], grade=6, name="升学生")
    req = _progress(env, e)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    change_decide(actor=env["haizhu"], request=req, action="approve", today=DAY)
    new = Enrollment.objects.get(person_id=e.person_id, is_active=True)
    snap = EnrollmentSnapshot.objects.get(enrollment_id=e.pk)
    assert (snap.person["name"], snap.backfilled, new.school_id) == ("升学生", False, env["junior"].pk)
    assert not EnrollmentSnapshot.objects.filter(enrollment_id=new.pk).exists()
