"""Edges of the oversight notices (第5、26条; 第17条 逐级上报): a rise at the top of the tree tells only that unit
(there is no level above); an escalation to a level the region does not have tells nobody; a notice whose key
has no translated text yet keeps its Chinese text."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes import models as change_models
from xueji.changes.models import Notification
from xueji.dropouts.enums import Escalation, Reason, Source
from xueji.dropouts.models import DropoutCase
from xueji.dropouts.services import case_open
from xueji.oversight import services as oversight
from xueji.oversight.models import UnitCount
from xueji.oversight.services import (
    NOTICE_DROPOUT,
    NOTICE_RISE,
    counts_snapshot,
    dropout_escalation_notify,
)
from xueji.regions.models import OrgUnit

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)


def _case(county: str, name: str) -> DropoutCase:
    c.calendar()
    school = f.school(county, "primary", name=name)
    return case_open(
        actor=f.registrar(school),
        enrollment=c.enrolled(school, grade=4, name="林小雨"),
        source=Source.SCHOOL,
        days_absent=10,
        last_seen=None,
        reason=Reason.STUDY_AVERSION,
        today=MONDAY,
    )


def test_a_rise_at_the_top_unit_tells_only_that_unit(tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """第26条: the level above is told of a rise — the national unit has none, so only it is told, once."""
    national = OrgUnit.objects.get(parent=None)
    counts = {national.pk: {"steps": 1}}
    monkeypatch.setattr(oversight, "own_counts", lambda *, window: counts)
    assert counts_snapshot().baseline
    counts = {national.pk: {"steps": 3}}
    report = counts_snapshot()
    assert (report.baseline, report.rose, report.notices) == (False, 1, 1)
    told = Notification.objects.filter(notice=NOTICE_RISE)
    assert [(n.org_unit_id, n.params["reason"]) for n in told] == [(national.pk, national.name)]
    assert UnitCount.objects.get(org_unit=national, metric="steps").count == 3


def test_no_department_of_that_level_no_notice(tree: Any) -> None:
    """第17条 逐级上报 to the city: 北京市 has no city level between the province and its districts, so nobody is
    told at that level (and nothing is written); the province above is told as usual."""
    case = _case("110105", "朝阳一小")
    assert dropout_escalation_notify(case=case, level=Escalation.CITY, on=MONDAY) is None
    assert not Notification.objects.filter(notice=NOTICE_DROPOUT).exists()
    told = dropout_escalation_notify(case=case, level=Escalation.PROVINCE, on=MONDAY)
    assert told is not None and told.org_unit == f.dept("110000")


def test_a_notice_without_translated_text_keeps_the_chinese_text(
    tree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until NOTICE_TEXTS names the key, the Chinese text of the escalation is kept in ``message`` (and read
    back as the notice's text); it names the school, never the pupil (第24条)."""
    monkeypatch.delitem(change_models.NOTICE_TEXTS, NOTICE_DROPOUT)
    case = _case("440105", "海珠一小")
    n = dropout_escalation_notify(case=case, level=Escalation.COUNTY, on=MONDAY)
    assert n is not None and n.org_unit == f.dept("440105")
    n.refresh_from_db()
    assert n.message == (
        "控辍保学：海珠一小的辍学学生逾期未跟踪，已于2026-11-23逐级上报至本级（第十七条），请督办"
    )
    assert n.text == n.message and "林小雨" not in n.message
    assert (n.needs_action, n.params["case"], n.params["level"]) == (True, str(case.pk), Escalation.COUNTY)
