"""Refusals of ``calendar_year_define`` (a national admin entering a newly published year): each names the
field and code, and the year already stored stays as it was."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.core.errors import FieldError
from xueji.workdays.models import CalendarYear, SpecialDay
from xueji.workdays.services import calendar_year_define

pytestmark = pytest.mark.django_db
SOURCE = "国办发明电〔2026〕X号"


@pytest.mark.parametrize(
    ("arguments", "field", "code"),
    [
        ({"days_off": [(date(2027, 1, 1), "元旦")], "source": "  "}, "source", "required"),
        ({"days_off": [(date(2028, 1, 1), "元旦")]}, "days_off", "wrong_year"),
        ({"make_up_workdays": [(date(2026, 12, 26), "调休")]}, "make_up_workdays", "wrong_year"),
        ({"make_up_workdays": [(date(2027, 1, 11), "调休")]}, "make_up_workdays", "not_weekend"),  # a Monday
    ],
    ids=["no-source", "day-off-of-another-year", "make-up-day-of-another-year", "make-up-day-on-a-weekday"],
)
def test_refusals_name_the_field(tree, arguments, field, code):  # type: ignore[no-untyped-def]
    admin = f.user(Role.SYSTEM_ADMIN, f.dept("000000"))
    define = {"year": 2027, "days_off": [], "make_up_workdays": [], "source": SOURCE, **arguments}

    with pytest.raises(FieldError) as exc:
        calendar_year_define(actor=admin, **define)

    assert (exc.value.field, exc.value.code) == (field, code)
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not SpecialDay.objects.filter(day__year=2027).exists()
