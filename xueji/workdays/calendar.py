"""Working-day arithmetic on the official calendar (pure: the data is passed in as a :class:`Calendar`).

Convention (domain.md §6.3): "N working days after D" is the N-th working day strictly after D — the start day
never counts, whether or not it is a working day. A result is *provisional* when any day it had to look at lies
in a year without official data (then only weekends are treated as days off) — never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from chinese_calendar import constants


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool  # some of the counted days lie in a year with no official calendar


@dataclass(frozen=True)
class Calendar:
    special: Mapping[date, bool] = field(default_factory=dict)  # day → is_workday (exceptions only)
    official_years: frozenset[int] = frozenset()

    def is_workday(self, day: date) -> bool:
        override = self.special.get(day)
        if override is not None:
            return override
        return day.weekday() < 5

    def is_official(self, day: date) -> bool:
        return day.year in self.official_years

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The ``n``-th working day strictly after ``start`` (``n`` ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, counted, provisional = start, 0, not self.is_official(start)
        while counted < n:
            day += timedelta(days=1)
            provisional = provisional or not self.is_official(day)
            if self.is_workday(day):
                counted += 1
        return Deadline(day, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end] — how many of a deadline's days have been used by ``end``."""
        if end <= start:
            return -self.working_days_between(end, start) if end < start else 0
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


def from_package(years: Iterable[int] | None = None) -> Calendar:
    """Build a calendar from the ``chinesecalendar`` package (official data 2004–its last year)."""
    special: dict[date, bool] = {}
    for day in constants.holidays:
        special[day] = False
    for day in constants.workdays:
        special[day] = True
    covered = {d.year for d in special}
    if years is not None:
        covered &= set(years)
    return Calendar(
        special={d: w for d, w in special.items() if d.year in covered}, official_years=frozenset(covered)
    )
