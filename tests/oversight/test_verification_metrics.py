"""Two violations of 第26条 read from the semester verification (第25条): schools whose return is past the
round's deadline (核查逾期), and pupils a school marked 人籍分离 with no dropout case opened (第17条: 辍学未报告).
Counts per child unit equal the records behind them, and opening the case removes the pupil from the count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.dropouts.services import case_open
from xueji.oversight.queries import BY_KEY, Window, oversight_rows
from xueji.verification.models import SchoolReturn
from xueji.verification.services import finding_save, round_open

pytestmark = pytest.mark.django_db


def test_overdue_returns_and_unreported_dropouts(tree) -> None:  # type: ignore[no-untyped-def]
    school = f.school("440105", "primary", name="海珠一小")
    other = f.school("440106", "primary", name="天河一小")
    pupil = c.enrolled(school, grade=3, name="林小雨")
    reg = f.registrar(school)
    today = timezone.localdate()
    rnd = round_open(
        actor=c.dept_registrar("440000"),
        unit=f.dept("440000"),
        title="2026—2027学年第一学期学籍核查",
        school_year=2026,
        semester="1",
        deadline=today + timedelta(days=3),
    )
    ret = SchoolReturn.objects.get(round=rnd, school=school)
    finding_save(
        actor=reg,
        ret=ret,
        enrollment_id=pupil.pk,
        kind="absent",
        whereabouts="not_in_school",
        detail="三周未到校",
    )
    city = f.dept("440100")
    before = {r.unit.code: r.counts for r in oversight_rows(unit=city, window=Window.default())}
    assert before["440105"]["verification_overdue"] == 0  # the deadline has not passed
    assert before["440105"]["dropouts_unreported"] == 1
    assert before["440106"]["dropouts_unreported"] == 0

    late = Window.default(timezone.now() + timedelta(days=5))
    rows = {r.unit.code: r.counts for r in oversight_rows(unit=city, window=late)}
    # every active school of the province has a draft return: both counties' schools are overdue
    assert rows["440105"]["verification_overdue"] == 1
    assert rows["440106"]["verification_overdue"] == 1
    metric = BY_KEY["verification_overdue"]
    assert (
        metric.records(city.path, late).count()
        == SchoolReturn.objects.filter(scope_path__startswith=city.path, state="draft").count()
    )
    assert {r.school_id for r in metric.records(city.path, late)} == {school.pk, other.pk}

    case_open(
        actor=reg,
        enrollment=pupil,
        source="school",
        days_absent=15,
        last_seen=today - timedelta(days=21),
        reason="aversion",
    )
    after = {r.unit.code: r.counts for r in oversight_rows(unit=city, window=Window.default())}
    assert after["440105"]["dropouts_unreported"] == 0


def test_unreported_counts_only_out_of_school_pupils_and_a_closed_case_still_counts_as_reported(tree) -> None:  # type: ignore[no-untyped-def]
    """第17条: a pupil at another school, abroad or ill is not a dropout; a case opened since the round began is
    the report even after it is closed (劝返复学)."""
    from xueji.dropouts.services import case_close

    school = f.school("440105", "primary", name="海珠一小")
    away, lost, ill = (
        c.enrolled(school, grade=g, name=n) for g, n in ((3, "林小雨"), (4, "陈大海"), (5, "王小明"))
    )
    reg = f.registrar(school)
    county = c.dept_registrar("440105")
    today = timezone.localdate()
    rnd = round_open(
        actor=c.dept_registrar("440000"),
        unit=f.dept("440000"),
        title="核查",
        school_year=2026,
        semester="1",
        deadline=today + timedelta(days=3),
    )
    ret = SchoolReturn.objects.get(round=rnd, school=school)
    finding_save(
        actor=reg,
        ret=ret,
        enrollment_id=away.pk,
        kind="absent",
        whereabouts="other_school",
        detail="在外地就读",
    )
    finding_save(
        actor=reg, ret=ret, enrollment_id=lost.pk, kind="absent", whereabouts="unknown", detail="联系不上"
    )
    finding_save(
        actor=reg, ret=ret, enrollment_id=ill.pk, kind="absent", whereabouts="illness", detail="住院"
    )
    metric = BY_KEY["dropouts_unreported"]
    assert [x.enrollment_id for x in metric.records("/", Window.default())] == [lost.pk]
    case = case_open(
        actor=reg, enrollment=lost, source="school", days_absent=20, last_seen=None, reason="aversion"
    )
    case_close(
        actor=county, case=case, outcome="returned", returned_class="四年级2班", returned_on=today, note=""
    )
    assert metric.records("/", Window.default()).count() == 0
