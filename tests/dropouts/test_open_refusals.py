"""Opening a dropout case refuses, naming the field, what 第17条 does not cover or the input gets wrong; nothing is
written."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.core.errors import FieldError, Forbidden
from xueji.dropouts.enums import Reason, Source
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import case_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(tree: Any) -> dict[str, Any]:
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    senior = f.school("440105", "senior", name="海珠高中")
    return {
        "pupil": c.enrolled(school, grade=4, name="林小雨"),
        "senior_pupil": c.enrolled(senior, grade=10, name="黄一鸣"),
        "reg": f.registrar(school),
        "haizhu": c.dept_registrar("440105"),
    }


def _open(s: dict[str, Any], **kw: Any) -> Any:
    args = {
        "actor": s["reg"],
        "enrollment": s["pupil"],
        "source": Source.SCHOOL,
        "days_absent": 10,
        "last_seen": None,
        "reason": Reason.STUDY_AVERSION,
        "today": date(2026, 11, 23),
    }
    return case_open(**{**args, **kw})


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"source": "rumour"}, "source"),
        ({"reason": "bored"}, "reason"),
        ({"days_absent": -1}, "days_absent"),
        ({"last_seen": date(2026, 11, 23) + timedelta(days=1)}, "last_seen"),
    ],
)
def test_bad_input_names_the_field(s: dict[str, Any], kw: dict, field: str) -> None:
    with pytest.raises(FieldError) as err:
        _open(s, **kw)
    assert err.value.field == field
    assert not DropoutCase.objects.exists()


def test_a_lead_needs_its_department_within_the_length(s: dict[str, Any]) -> None:
    for lead_from, code in (("  ", "required"), ("部" * 61, "too_long")):
        with pytest.raises(FieldError) as err:
            _open(s, actor=s["haizhu"], source=Source.LEAD, lead_from=lead_from)
        assert (err.value.field, err.value.code) == ("lead_from", code)
    assert not DropoutCase.objects.exists()


def test_senior_high_is_not_compulsory_and_a_school_report_is_the_schools(s: dict[str, Any]) -> None:
    with pytest.raises(FieldError) as err:
        _open(s, enrollment=s["senior_pupil"])
    assert err.value.field == "person"
    with pytest.raises(Forbidden):
        _open(s, actor=s["haizhu"])  # a school report by a department
    assert not DropoutCase.objects.exists()
