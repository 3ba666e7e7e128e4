"""The problem-record checks (第9、25条; issue 10 §2): each rule opens what it must and nothing else, idempotently,
with its owner and working-day deadline from the province's rules; a run closes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ChangeRequest
from xueji.checks.services import CHECKS_RUN_EVENT, run_checks
from xueji.policies.models import ProvinceRuleSet
from xueji.policies.rules import RulesInvalid, validate_rules
from xueji.students.identity import mod11_2_check_char
from xueji.students.models import Enrollment, Person, ProblemEvent, ProblemRecord
from xueji.workdays.services import add_working_days

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 4)
Kind = ProblemRecord.Kind


def run(rule: str, today: date = TODAY) -> int:
    return run_checks(actor=None, today=today, provinces=["440000"], rules=[rule]).opened[rule]


def open_kinds(enrollment: Enrollment) -> set[str]:
    return set(
        ProblemRecord.objects.filter(person_id=enrollment.person_id, state="open").values_list(
            "kind", flat=True
        )
    )


def province_rules(**checks: dict) -> ProvinceRuleSet:
    return ProvinceRuleSet.objects.create(
        province_code="440000",
        version=ProvinceRuleSet.objects.filter(province_code="440000").count() + 1,
        effective_from=date(2026, 1, 1),
        filed_on=date(2026, 1, 1),
        rules={"checks": checks},
    )


@pytest.fixture(autouse=True)
def _calendar():  # type: ignore[no-untyped-def]
    c.calendar()


# ------------------------------------------------------------------------------------------- each rule
def test_suspected_duplicate_opens_for_the_earlier_pupil_and_respects_a_decided_pair(school_a, registrar_a):
    """第9条 不得重复建立学籍: registration flags the new pupil; the check flags the earlier one of the pair too.
    A pair the county confirmed as two children is not reported again."""
    first = c.enrolled(school_a, id_type="Z", id_number="", name="王五")
    second = c.enrolled(school_a, id_type="Z", id_number="", name="王五")
    other = c.enrolled(school_a, id_type="Z", id_number="", name="李四")
    assert open_kinds(second) == {Kind.SUSPECTED_DUPLICATE}
    assert open_kinds(first) == set()

    assert run("suspected_duplicate") == 0  # the pair has an open record already: nothing new
    ProblemRecord.objects.filter(person_id=second.person_id).update(state="distinct")
    assert run("suspected_duplicate") == 0  # decided as two children: quiet
    assert open_kinds(first) == open_kinds(other) == set()

    ProblemRecord.objects.all().delete()  # an undecided pair (e.g. both imported before the rule)
    assert run("suspected_duplicate") == 1  # one record per pair, not A→B and B→A
    assert run("suspected_duplicate") == 0
    low, high = sorted([first, second], key=lambda e: e.person_id)
    rec = ProblemRecord.objects.get()
    assert (rec.person_id, rec.other_person_id) == (low.person_id, high.person_id)
    rec = ProblemRecord.objects.get(person_id=first.person_id)
    assert (rec.kind, rec.other_person_id, rec.source, rec.owner) == (
        Kind.SUSPECTED_DUPLICATE,
        second.person_id,
        "check",
        "county",
    )
    assert rec.school_id == school_a.pk and rec.scope_path == school_a.org.path
    assert open_kinds(other) == set()


def test_id_invalid_flags_legacy_numbers_only(school_a):
    """第6、9条: a resident identity number failing today's GB 11643 check (check character, birth date, sex,
    format) opens a record; a valid one does not."""
    good = c.enrolled(school_a)
    rows = [c.enrolled(school_a) for _ in range(4)]
    first17 = rows[0].person.id_number[:17]
    wrong_check = first17 + ("0" if mod11_2_check_char(first17) != "0" else "1")
    other_birth = "440105" + "20170314" + first17[14:]
    other_birth += mod11_2_check_char(other_birth)
    wrong_sex_17 = first17[:16] + str((int(first17[16]) + 1) % 10)
    wrong_sex = wrong_sex_17 + mod11_2_check_char(wrong_sex_17)
    for e, number in zip(rows, [wrong_check, other_birth, wrong_sex, "44010520180314"], strict=True):
        person = Person.objects.get(pk=e.person_id)  # written around the validation, as a legacy import did
        person.id_number = number
        person.save(update_fields=["id_number"])
    assert run("id_invalid") == 4
    assert all(open_kinds(e) == {Kind.ID_INVALID} for e in rows)
    assert open_kinds(good) == set()


def test_age_far_outside_the_grade(school_a, national_grade_age):
    """第9、11条: a pupil whose age lies outside the grade's ``allowed`` band (what registration refuses) is a
    problem; one inside it is not; ``margin_years`` widens the band."""
    ok = c.enrolled(school_a, grade=3, birth_date=date(2017, 5, 1))  # 9 on 2026-08-31, expected 8
    baby = c.enrolled(school_a, grade=3, birth_date=date(2017, 5, 1))
    Person.objects.filter(pk=baby.person_id).update(birth_date=date(2023, 1, 1))  # 3 in grade 3
    assert run("age_grade") == 1
    assert open_kinds(baby) == {Kind.AGE_GRADE} and open_kinds(ok) == set()

    older = c.enrolled(school_a, grade=3, birth_date=date(2017, 5, 1))
    Person.objects.filter(pk=older.person_id).update(
        birth_date=date(2011, 5, 1)
    )  # 15 in grade 3: allowed ≤ 14
    province_rules(age_grade={"margin_years": 1})
    assert run("age_grade") == 0  # with one year of margin, 15 is tolerated
    Person.objects.filter(pk=older.person_id).update(birth_date=date(2010, 5, 1))  # 16
    assert run("age_grade") == 1


def test_suspension_past_one_year(school_a, registrar_a):
    """第16条 休学期限不超过 1 年: suspended with no suspension effective within max_days → a record; a recent
    suspension or a resumption in flight → none."""
    stale, recent, resuming = (c.enrolled(school_a) for _ in range(3))
    Enrollment.objects.filter(pk__in=[stale.pk, recent.pk, resuming.pk]).update(status="02")

    def request(e: Enrollment, kind: str, state: str, effective: date | None) -> None:
        ChangeRequest.objects.create(
            kind=kind,
            state=state,
            person_id=e.person_id,
            enrollment=e,
            province_code="440000",
            source_path=e.scope_path,
            created_by=registrar_a,
            initiator_org=school_a.org,
            effective_on=effective,
        )

    request(stale, ChangeKind.SUSPENSION, "approved", TODAY - timedelta(days=400))
    request(recent, ChangeKind.SUSPENSION, "approved", TODAY - timedelta(days=200))
    request(resuming, ChangeKind.SUSPENSION, "approved", TODAY - timedelta(days=400))
    request(resuming, ChangeKind.RESUMPTION, "pending", None)
    assert run("suspension_overdue") == 1
    assert open_kinds(stale) == {Kind.SUSPENSION_OVERDUE}
    assert open_kinds(recent) == open_kinds(resuming) == set()


def test_student_without_a_class(school_a):
    """第25条 学籍信息准确: an active record with no class ``grace_days`` after registration."""
    old, fresh, placed = (c.enrolled(school_a) for _ in range(3))
    long_ago = timezone.now() - timedelta(days=40)
    Enrollment.objects.filter(pk=old.pk).update(class_name=" ", registered_at=long_ago)
    Enrollment.objects.filter(pk=fresh.pk).update(class_name="")
    Enrollment.objects.filter(pk=placed.pk).update(registered_at=long_ago)
    assert run("no_class") == 1
    assert open_kinds(old) == {Kind.NO_CLASS}


def test_record_not_promoted(school_a):
    """第7、25条: from ``check_from`` of the school year, a pupil whose grade lags its entry year and who was not
    promoted this year is a problem; in time, or promoted, or newly entered: none."""
    lagging, promoted, on_time = (c.enrolled(school_a, grade=2) for _ in range(3))
    Enrollment.objects.filter(pk=lagging.pk).update(entry_ym="202409")  # entered 2024 → grade 3 in 2026
    Enrollment.objects.filter(pk=promoted.pk).update(entry_ym="202409", promoted_year=2026)
    Enrollment.objects.filter(pk=on_time.pk).update(entry_ym="202509")
    assert run("not_promoted", today=date(2026, 9, 1)) == 0  # before 09-15: the promotion may still run
    assert run("not_promoted") == 1
    assert open_kinds(lagging) == {Kind.NOT_PROMOTED}


def test_archive_past_the_two_month_deadline(school_a):
    """第6条 2 个月内建立学籍档案: an archive not completed after its due date (plus grace) opens a record."""
    late, due_later, done = (c.enrolled(school_a) for _ in range(3))
    Enrollment.objects.filter(pk__in=[late.pk, done.pk]).update(archive_due=TODAY - timedelta(days=3))
    Enrollment.objects.filter(pk=done.pk).update(archive_completed_at=timezone.now())
    Enrollment.objects.filter(pk=due_later.pk).update(archive_due=TODAY + timedelta(days=3))
    province_rules(archive_overdue={"grace_days": 5})
    assert run("archive_overdue") == 0
    province_rules(archive_overdue={"grace_days": 0, "owner": "county", "due_working_days": 3})
    assert run("archive_overdue") == 1
    rec = ProblemRecord.objects.get(person_id=late.person_id)
    assert (rec.kind, rec.owner, rec.article) == (Kind.ARCHIVE_OVERDUE, "county", "第六条")
    assert rec.due_on == add_working_days(TODAY, 3).due


# ------------------------------------------------------------------------------------------- the run
def test_run_is_idempotent_closes_nothing_and_audits_counts(school_a):
    """Run twice: no second open record per person and reason; a condition gone leaves the record open (the
    owner handles it); each run writes one audit event with the counts, no personal data."""
    late = c.enrolled(school_a)
    Enrollment.objects.filter(pk=late.pk).update(archive_due=TODAY - timedelta(days=1))
    first = run_checks(actor=None, today=TODAY, provinces=["440000"])
    second = run_checks(actor=None, today=TODAY, provinces=["440000"])
    assert first.opened["archive_overdue"] == 1 and second.total == 0
    assert ProblemRecord.objects.filter(person_id=late.person_id, kind="archive_overdue").count() == 1
    rec = ProblemRecord.objects.get(person_id=late.person_id, kind="archive_overdue")
    assert rec.due_on == add_working_days(TODAY, 10).due and rec.owner == "school"
    assert list(ProblemEvent.objects.filter(problem=rec).values_list("action", flat=True)) == ["open"]

    Enrollment.objects.filter(pk=late.pk).update(archive_completed_at=timezone.now())
    run_checks(actor=None, today=TODAY, provinces=["440000"])
    rec.refresh_from_db()
    assert rec.state == "open"

    events = AuditEvent.objects.filter(event_type=CHECKS_RUN_EVENT).order_by("occurred_at")
    assert events.count() == 3
    assert events[0].after["counts"]["opened"]["archive_overdue"] == 1
    assert late.person.name not in str(events[0].after) + events[0].summary


def test_disabled_rule_does_not_run_and_bad_overrides_are_refused(school_a):
    late = c.enrolled(school_a)
    Enrollment.objects.filter(pk=late.pk).update(archive_due=TODAY - timedelta(days=1))
    province_rules(archive_overdue={"enabled": False})
    report = run_checks(actor=None, today=TODAY, provinces=["440000"], rules=["archive_overdue"])
    assert report.opened["archive_overdue"] == 0 and report.skipped == {"440000": ["archive_overdue"]}
    with pytest.raises(RulesInvalid) as exc:
        validate_rules({"checks": {"archive_overdue": {"grace_days": -1, "owner": "city"}, "nonsense": {}}})
    assert set(exc.value.fields) == {
        "checks.archive_overdue.grace_days",
        "checks.archive_overdue.owner",
        "checks.nonsense",
    }
    with pytest.raises(ValueError, match="unknown"):
        run_checks(actor=None, today=TODAY, rules=["nope"])


def test_accepted_record_is_not_reopened(school_a):
    """A county's 核实无误 (``distinct``) keeps the rule quiet for that pupil; a correction (``resolved``) whose
    condition persists is reported again."""
    accepted, corrected = c.enrolled(school_a), c.enrolled(school_a)
    Enrollment.objects.filter(pk__in=[accepted.pk, corrected.pk]).update(
        archive_due=TODAY - timedelta(days=1)
    )
    assert run("archive_overdue") == 2
    ProblemRecord.objects.filter(person_id=accepted.person_id).update(state="distinct")
    ProblemRecord.objects.filter(person_id=corrected.person_id).update(state="resolved")
    assert run("archive_overdue") == 1
    assert open_kinds(corrected) == {Kind.ARCHIVE_OVERDUE} and open_kinds(accepted) == set()


def test_other_province_untouched(tree):
    bj = f.school("110101", "primary")
    late = c.enrolled(bj)
    Enrollment.objects.filter(pk=late.pk).update(archive_due=TODAY - timedelta(days=1))
    assert run("archive_overdue") == 0
    assert run_checks(actor=None, today=TODAY, provinces=["110000"]).opened["archive_overdue"] == 1


def test_one_run_applies_each_province_its_own_rules(school_a):
    """Provinces whose rules agree share a statement; an override applies to its province only."""
    bj = c.enrolled(f.school("110101", "primary"))
    gd = c.enrolled(school_a)
    Enrollment.objects.filter(pk__in=[bj.pk, gd.pk]).update(archive_due=TODAY - timedelta(days=3))
    province_rules(archive_overdue={"grace_days": 5})
    report = run_checks(actor=None, today=TODAY, provinces=["440000", "110000"], rules=["archive_overdue"])
    assert report.opened["archive_overdue"] == 1
    assert open_kinds(bj) == {Kind.ARCHIVE_OVERDUE} and open_kinds(gd) == set()
    assert ProblemEvent.objects.filter(action="open").count() == 1
