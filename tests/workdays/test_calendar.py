"""Legal clocks count official working days (第15条: 10 per party; 第21条: 60) — domain.md §6.3 vectors."""

from datetime import date

import pytest

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.core.errors import ApplicationError
from xueji.workdays.calendar import Calendar, from_package
from xueji.workdays.models import CalendarYear
from xueji.workdays.services import add_working_days, calendar_load_package, calendar_year_define

VECTORS = [
    (date(2026, 9, 24), 10, date(2026, 10, 15)),
    (date(2026, 9, 18), 10, date(2026, 10, 9)),
    (date(2026, 9, 30), 10, date(2026, 10, 20)),
    (date(2026, 10, 1), 10, date(2026, 10, 20)),
    (date(2026, 2, 10), 10, date(2026, 3, 2)),
    (date(2026, 2, 13), 1, date(2026, 2, 14)),
    (date(2026, 4, 28), 10, date(2026, 5, 14)),
    (date(2026, 6, 15), 10, date(2026, 6, 30)),
    (date(2026, 1, 1), 10, date(2026, 1, 15)),
    (date(2026, 8, 14), 10, date(2026, 8, 28)),
    (date(2026, 9, 1), 60, date(2026, 11, 30)),
    (date(2026, 3, 2), 60, date(2026, 5, 28)),
    (date(2026, 7, 1), 60, date(2026, 9, 22)),
]


@pytest.mark.parametrize(("start", "n", "due"), VECTORS)
def test_official_vectors_from_package(start, n, due):
    result = from_package().add_working_days(start, n)
    assert (result.due, result.provisional) == (due, False)


def test_year_without_official_data_is_provisional_weekends_only_never_a_crash():
    result = from_package().add_working_days(date(2026, 12, 18), 10)
    # Dec 21–25, Dec 28–31 are 9 weekdays; Jan 1 2027 (a Friday) counts because 2027 has no official data yet.
    assert result == type(result)(date(2027, 1, 1), True)


def test_working_days_between():
    cal = from_package()
    assert cal.working_days_between(date(2026, 9, 24), date(2026, 10, 15)) == 10
    assert cal.working_days_between(date(2026, 10, 15), date(2026, 10, 15)) == 0
    assert Calendar().working_days_between(date(2026, 1, 9), date(2026, 1, 5)) == -4


@pytest.mark.django_db
def test_calendar_lives_in_database_and_is_loaded_idempotently():
    assert calendar_load_package(actor=None) >= 23
    assert calendar_load_package(actor=None) == 0
    assert add_working_days(date(2026, 9, 24), 10).due == date(2026, 10, 15)


@pytest.mark.django_db
def test_national_admin_extends_the_calendar_with_a_new_year(tree):
    calendar_load_package(actor=None)
    admin = f.user(Role.SYSTEM_ADMIN, f.dept("000000"))
    calendar_year_define(
        actor=admin,
        year=2027,
        days_off=[(date(2027, 1, 1), "元旦"), (date(2026 + 1, 1, 4), "元旦")],
        make_up_workdays=[(date(2027, 1, 10), "元旦调休")],
        source="国办发明电〔2026〕X号",
    )
    result = add_working_days(date(2026, 12, 30), 3)
    # Dec 31 (Thu), Jan 1 off, Jan 4 off, Jan 5, 6 → third working day is Jan 6; official, not provisional.
    assert (result.due, result.provisional) == (date(2027, 1, 6), False)
    assert CalendarYear.objects.get(year=2027).source == "国办发明电〔2026〕X号"


@pytest.mark.django_db
def test_only_national_level_may_extend_the_calendar(school_a, registrar_a):
    with pytest.raises(ApplicationError) as exc:
        calendar_year_define(actor=registrar_a, year=2027, days_off=[], make_up_workdays=[], source="x")
    assert exc.value.code == "national_only"
