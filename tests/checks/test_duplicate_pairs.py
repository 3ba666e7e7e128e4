"""第9条 不得重复建立学籍: the suspected-duplicate check opens one record per undecided pair — not A→B and B→A in
the same run — reported by the lower id, or by the other one when the lower already has an open record."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import changes as c
from xueji.checks.services import run_checks
from xueji.students.models import ProblemRecord

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 4)
KIND = ProblemRecord.Kind.SUSPECTED_DUPLICATE


@pytest.fixture(autouse=True)
def _calendar():  # type: ignore[no-untyped-def]
    c.calendar()


def run() -> int:
    return run_checks(actor=None, today=TODAY, provinces=["440000"], rules=[KIND]).opened[KIND]


def _pairs() -> set[frozenset]:
    return {
        frozenset(p)
        for p in ProblemRecord.objects.filter(kind=KIND, state="open").values_list(
            "person_id", "other_person_id"
        )
    }


def test_each_pair_is_reported_once(school_a):  # type: ignore[no-untyped-def]
    a, b, c3 = sorted(
        (c.enrolled(school_a, id_type="Z", id_number="", name="王五") for _ in range(3)),
        key=lambda e: e.person_id,
    )
    ProblemRecord.objects.all().delete()  # as if imported before the rule
    assert run() == 2  # a→b, b→c: every pupil is named, no mirror
    assert _pairs() == {frozenset({a.person_id, b.person_id}), frozenset({b.person_id, c3.person_id})}
    rows = list(ProblemRecord.objects.filter(kind=KIND).values_list("person_id", "other_person_id"))
    assert all(person < other for person, other in rows)  # the lower id reports the pair
    assert run() == 1  # the one pair left (a, c), reported by c since a has its record
    assert frozenset({a.person_id, c3.person_id}) in _pairs()
    assert run() == 0
    assert len(_pairs()) == ProblemRecord.objects.filter(kind=KIND).count() == 3  # no pair twice


def test_the_higher_id_reports_when_the_lower_is_busy(school_a):  # type: ignore[no-untyped-def]
    a, b = sorted(
        (c.enrolled(school_a, id_type="Z", id_number="", name="赵六") for _ in range(2)),
        key=lambda e: e.person_id,
    )
    x = c.enrolled(school_a, id_type="Z", id_number="", name="钱七")
    ProblemRecord.objects.all().delete()
    busy = ProblemRecord.objects.create(  # a already has an open record about another pupil
        kind=KIND,
        person_id=a.person_id,
        other_person_id=x.person_id,
        province_code="440000",
        scope_path=school_a.org.path,
    )
    assert run() == 1
    new = ProblemRecord.objects.exclude(pk=busy.pk).get()
    assert (new.person_id, new.other_person_id) == (b.person_id, a.person_id)


@pytest.mark.parametrize(
    ("born", "near"),
    [
        (date(2017, 3, 5), date(2017, 5, 3)),  # month and day swapped
        (date(2017, 3, 5), date(2017, 3, 6)),  # a day apart
        (date(2016, 12, 31), date(2017, 1, 1)),  # a day apart across the year
        (date(2017, 3, 5), date(2017, 3, 5)),  # the same day
    ],
)
def test_a_birth_date_a_typing_slip_away_is_a_suspected_duplicate(school_a, born, near):  # type: ignore[no-untyped-def]
    a = c.enrolled(school_a, id_type="Z", id_number="", name="孙八", birth_date=born)
    b = c.enrolled(school_a, id_type="Z", id_number="", name="孙八", birth_date=near)
    ProblemRecord.objects.all().delete()
    assert run() == 1
    assert _pairs() == {frozenset({a.person_id, b.person_id})}


@pytest.mark.parametrize(
    ("born", "far"),
    [
        (date(2017, 3, 5), date(2017, 3, 7)),  # two days apart
        (date(2017, 3, 25), date(2017, 4, 25)),  # another month
        (date(2017, 3, 5), date(2018, 5, 3)),  # swapped, but another year
    ],
)
def test_other_birth_dates_or_names_are_not(school_a, born, far):  # type: ignore[no-untyped-def]
    c.enrolled(school_a, id_type="Z", id_number="", name="周九", birth_date=born)
    c.enrolled(school_a, id_type="Z", id_number="", name="周九", birth_date=far)
    c.enrolled(school_a, id_type="Z", id_number="", name="吴十", birth_date=born)
    ProblemRecord.objects.all().delete()
    assert run() == 0


def test_a_pair_whose_lower_id_holds_an_identity_number_is_still_reported(school_a):  # type: ignore[no-untyped-def]
    """The rule runs only for people without an identity number: when the older record (lower id) has one, the
    later record without one reports the pair — the common case of a legacy duplicate (第9条)."""
    older = c.enrolled(school_a, name="孙八")  # with a resident identity number
    person = older.person
    later = c.enrolled(
        school_a, id_type="Z", id_number="", name="孙八", gender=person.gender, birth_date=person.birth_date
    )
    assert older.person_id < later.person_id
    ProblemRecord.objects.all().delete()
    assert run() == 1
    record = ProblemRecord.objects.get(kind=KIND)
    assert (record.person_id, record.other_person_id) == (later.person_id, older.person_id)
    assert run() == 0


def test_a_pair_whose_lower_id_was_confirmed_distinct_elsewhere_is_still_reported(school_a):  # type: ignore[no-untyped-def]
    """A person the county once confirmed as distinct from someone else is not checked again for this reason;
    a new pair with them is then reported by the other person."""
    a, b = sorted(
        (c.enrolled(school_a, id_type="Z", id_number="", name="周九") for _ in range(2)),
        key=lambda e: e.person_id,
    )
    x = c.enrolled(school_a, id_type="Z", id_number="", name="吴十")
    ProblemRecord.objects.all().delete()
    ProblemRecord.objects.create(
        kind=KIND,
        person_id=a.person_id,
        other_person_id=x.person_id,
        state=ProblemRecord.State.CONFIRMED_DISTINCT,
        province_code="440000",
        scope_path=school_a.org.path,
    )
    assert run() == 1
    assert frozenset({a.person_id, b.person_id}) in _pairs()
