"""Loading and extending the official calendar; the cached :func:`official_calendar` used by every clock."""

from __future__ import annotations

from datetime import date

from django.core.cache import cache
from django.db import transaction

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import all_grants
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError, FieldError
from xueji.regions.enums import OrgLevel

from .calendar import Calendar, from_package
from .models import CalendarYear, SpecialDay

_CACHE_KEY = "xueji.workdays.calendar.v1"
PACKAGE_SOURCE = "chinesecalendar（国务院办公厅节假日安排通知）"


def official_calendar() -> Calendar:
    """The calendar as stored in the database, cached per process (invalidated on every change)."""
    cal = cache.get(_CACHE_KEY)
    if cal is None:
        special = dict(SpecialDay.objects.values_list("day", "is_workday"))
        years = frozenset(CalendarYear.objects.values_list("year", flat=True))
        cal = Calendar(special=special, official_years=years)
        cache.set(_CACHE_KEY, cal, 3600)
    return cal


def _invalidate() -> None:
    cache.delete(_CACHE_KEY)


@transaction.atomic
def calendar_load_package(*, actor: Actor | None) -> int:
    """Load every year the ``chinesecalendar`` package covers (idempotent; years already defined by a national
    admin are left alone). Returns the number of years loaded."""
    package = from_package()
    existing = set(CalendarYear.objects.values_list("year", flat=True))
    new_years = sorted(package.official_years - existing)
    SpecialDay.objects.bulk_create(
        [
            SpecialDay(day=d, is_workday=w, name="法定节假日" if not w else "调休上班")
            for d, w in package.special.items()
            if d.year in new_years
        ],
        ignore_conflicts=True,
    )
    CalendarYear.objects.bulk_create([CalendarYear(year=y, source=PACKAGE_SOURCE) for y in new_years])
    if new_years:
        record(
            event_type=EventType.CALENDAR_UPDATED,
            actor=actor,
            subject_type="calendar",
            subject_id=f"{new_years[0]}-{new_years[-1]}",
            summary=f"载入官方日历 {len(new_years)} 年",
        )
    _invalidate()
    transaction.on_commit(_invalidate)
    return len(new_years)


@transaction.atomic
def calendar_year_define(
    *,
    actor: Actor,
    year: int,
    days_off: list[tuple[date, str]],
    make_up_workdays: list[tuple[date, str]],
    source: str,
) -> CalendarYear:
    """A national admin enters a newly published year (the package lags the State Council notice).

    Replaces that year's exceptions wholesale; audited with the source document.
    """
    if not any(
        g.role in {Role.SYSTEM_ADMIN, Role.DEPT_REGISTRAR} and g.org_unit.level == OrgLevel.NATIONAL
        for g in all_grants(actor)
    ):
        raise ApplicationError("national_only", "官方日历只能由国家级管理员维护")
    if not source.strip():
        raise FieldError("source", "required", "请填写依据文件（如国务院办公厅通知文号）")
    for field, days in (("days_off", days_off), ("make_up_workdays", make_up_workdays)):
        for d, _name in days:
            if d.year != year:
                raise FieldError(field, "wrong_year", f"日期 {d} 不属于 {year} 年")
    for d, _name in make_up_workdays:
        if d.weekday() < 5:
            raise FieldError("make_up_workdays", "not_weekend", f"调休上班日 {d} 不是周末")
    SpecialDay.objects.filter(day__year=year).delete()
    SpecialDay.objects.bulk_create(
        [SpecialDay(day=d, is_workday=False, name=n[:40]) for d, n in days_off]
        + [SpecialDay(day=d, is_workday=True, name=n[:40]) for d, n in make_up_workdays]
    )
    row, _ = CalendarYear.objects.update_or_create(
        year=year, defaults={"source": source.strip(), "loaded_by": actor}
    )
    record(
        event_type=EventType.CALENDAR_UPDATED,
        actor=actor,
        subject_type="calendar",
        subject_id=year,
        summary=f"维护 {year} 年官方日历",
        after={"days_off": len(days_off), "workdays": len(make_up_workdays), "source": source.strip()},
    )
    _invalidate()
    transaction.on_commit(_invalidate)
    return row


def add_working_days(start: date, n: int):  # type: ignore[no-untyped-def]
    return official_calendar().add_working_days(start, n)
