"""Counts as of a date (issue 10 §1; 第5、23条): each rebuild keeps the snapshots of earlier days and replaces only
its own date's rows; the API and the page read any kept date (the latest on or before the one asked for) and
give the numbers a direct count gave on that day; the retention rule deletes what it no longer keeps. Also: a
central school's classes include its teaching points' (第22条), closed units without students are not listed,
an ethnicity left empty reads 未填写."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse

from tests.factories import accounts as af
from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.regions.models import OrgUnit
from xueji.statistics.models import ClassCell, Snapshot, StatCell, StatRollup
from xueji.statistics.queries import breakdown
from xueji.statistics.services import KEEP_DAYS, KEEP_MONTHS, expired_dates, snapshot_rebuild
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db

DAY1, DAY2 = date(2026, 11, 20), date(2026, 12, 1)


@pytest.fixture
def world(tree: Any) -> dict[str, Any]:
    haizhu = f.school("440105", "primary", name="海珠区第一小学")
    tianhe = f.school("440106", "primary", name="天河区实验小学")
    for i, school in enumerate((haizhu, haizhu, tianhe)):
        sf.student(school, name=f"学生{f.han_digits(i + 1)}", gender="1" if i else "2")
    return {"haizhu": haizhu, "tianhe": tianhe}


def _direct(unit: OrgUnit) -> dict[str, dict[str, int]]:
    """Counts straight from the records, by grade and by sex (taken at a moment, to compare later)."""
    records = Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path)
    return {
        "grade": {str(r["grade"]): r["n"] for r in records.values("grade").annotate(n=Count("pk"))},
        "gender": {
            r["person__gender"]: r["n"] for r in records.values("person__gender").annotate(n=Count("pk"))
        },
    }


def _client(unit: OrgUnit) -> Any:
    c = af.client()
    c.force_login(f.user(Role.DEPT_REGISTRAR, unit))
    return c


def test_two_rebuilds_on_different_days_keep_both(world: dict[str, Any], monkeypatch: Any) -> None:
    """The nightly task dates its snapshot today; the next day's rebuild leaves it in place."""
    from tests.factories.tasks import run_queued_tasks
    from xueji.statistics.tasks import rebuild_snapshot

    for day in (DAY1, DAY2):
        monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, _d=day, **k: _d)
        rebuild_snapshot.enqueue()
        assert run_queued_tasks() == ["SUCCESSFUL"]
    active = Enrollment.objects.filter(is_active=True).count()
    for day in (DAY1, DAY2):
        assert sum(StatCell.objects.filter(as_of=day).values_list("count", flat=True)) == active
        assert sum(ClassCell.objects.filter(as_of=day).values_list("count", flat=True)) == active
        national = OrgUnit.objects.get(level="national")
        rollup = StatRollup.objects.filter(as_of=day, unit_id=national.pk, dim="gender")
        assert sum(rollup.values_list("count", flat=True)) == active
    assert list(Snapshot.objects.values_list("as_of", flat=True)) == [DAY2, DAY1]


def test_api_as_of_gives_the_numbers_of_that_day(world: dict[str, Any]) -> None:
    unit = f.dept("440105")
    then = _direct(unit)
    snapshot_rebuild(DAY1)
    sf.student(world["haizhu"], name="学生四", gender="2")  # joins after the first snapshot
    gone = Enrollment.objects.filter(school=world["haizhu"], person__gender="1").first()
    assert gone is not None
    Enrollment.objects.filter(pk=gone.pk).update(is_active=False, status="10")
    now = _direct(unit)
    assert now != then
    snapshot_rebuild(DAY2)
    c = _client(unit)
    for as_of, used, expected in [
        ("2026-11-20", DAY1, then),
        ("2026-11-25", DAY1, then),  # no snapshot that day: the one in force then
        ("2026-12-01", DAY2, now),
        (None, DAY2, now),  # default: the latest
    ]:
        for by in ("grade", "gender"):
            params = {"unit": unit.pk, "by": by, **({"as_of": as_of} if as_of else {})}
            answer = c.get("/api/v1/statistics/counts", params)
            assert answer.status_code == 200
            body = answer.json()
            assert body["as_of"] == used.isoformat()
            assert {r["key"]: r["count"] for r in body["rows"]} == expected[by]
    # the region table reads the children's rollup of that day too
    body = c.get(
        "/api/v1/statistics/counts", {"unit": f.dept("440100").pk, "by": "region", "as_of": "2026-11-20"}
    )
    assert body.status_code == 404  # the city is outside a county's jurisdiction
    region = breakdown(unit=f.dept("440100"), by="region", as_of=DAY1)
    assert {r.key: r.count for r in region.rows}[str(unit.pk)] == sum(then["grade"].values())


def test_api_as_of_before_any_snapshot_and_bad_dates(world: dict[str, Any]) -> None:
    snapshot_rebuild(DAY1)
    c = _client(f.dept("440105"))
    early = c.get("/api/v1/statistics/counts", {"by": "grade", "as_of": "2026-11-19"})
    assert early.status_code == 404
    assert early.json()["message"] == "2026-11-19 及之前没有统计快照"
    for bad in ("2026-13-01", "20261120", "x"):
        answer = c.get("/api/v1/statistics/counts", {"by": "grade", "as_of": bad})
        assert answer.status_code == 422 and "as_of" in answer.json()["fields"]


def test_out_of_scope_with_as_of_is_still_404(world: dict[str, Any]) -> None:
    snapshot_rebuild(DAY1)
    snapshot_rebuild(DAY2)
    c = _client(f.dept("440105"))
    outside = f.dept("440106")
    for as_of in ("2026-11-20", "2026-12-01", "2026-01-01"):
        answer = c.get("/api/v1/statistics/counts", {"unit": outside.pk, "by": "grade", "as_of": as_of})
        assert answer.status_code == 404
        assert answer.json()["message"] == "对象不存在或不在您的管辖范围内"
        page = c.get(reverse("statistics:overview"), {"unit": outside.pk, "as_of": as_of})
        assert page.status_code == 404


def test_page_date_select_and_drill_down_keep_the_date(world: dict[str, Any]) -> None:
    unit = f.dept("440105")
    then = _direct(unit)
    snapshot_rebuild(DAY1)
    sf.student(world["haizhu"], name="学生四", gender="2")
    snapshot_rebuild(DAY2)
    c = _client(unit)
    html = c.get(reverse("statistics:overview")).content.decode()
    select = html.split('data-testid="stat-date"', 1)[1].split("</form>", 1)[0]
    assert re.findall(r'<option value="([^"]+)"', select) == ["2026-12-01", "2026-11-20"]
    assert 'value="2026-12-01" selected' in select
    assert "as_of=" not in html.split('data-testid="stat-region"', 1)[1]  # the latest: links without a date

    html = c.get(reverse("statistics:overview"), {"as_of": "2026-11-25"}).content.decode()
    assert 'value="2026-11-20" selected' in html
    section = html.split('data-testid="stat-gender"', 1)[1].split("</section>", 1)[0]
    keys = re.findall(r'<tr data-key="([^"]*)">', section)
    values = [int(v) for v in re.findall(r'data-value="(\d+)"', section)]
    assert dict(zip(keys, values, strict=True)) == then["gender"]
    school = world["haizhu"].org
    assert f"?unit={school.pk}&amp;as_of=2026-11-20" in html  # the child's link keeps the date
    school_page = c.get(reverse("statistics:overview"), {"unit": school.pk, "as_of": "2026-11-20"})
    assert f"?unit={school.pk}&amp;grade=1&amp;as_of=2026-11-20" in school_page.content.decode()
    assert c.get(reverse("statistics:overview"), {"as_of": "2026-11-19"}).status_code == 404
    assert c.get(reverse("statistics:overview"), {"as_of": "yesterday"}).status_code == 400


def test_retention_rule() -> None:
    """Every day of the last 31 days; the last snapshot of each of the last 36 months; nothing older."""
    today = date(2026, 12, 5)
    dates = [
        date(2023, 12, 31),  # a month end, but 37 months back: gone
        date(2024, 1, 10),  # not the last of its month: gone
        date(2024, 1, 31),  # the last of 2024-01, the 36th month back: kept
        date(2026, 10, 15),  # older than 31 days, not the last of October: gone
        date(2026, 10, 20),  # the last of October: kept
        date(2026, 11, 4),  # 31 days before is 11-05: gone (not the last of November)
        date(2026, 11, 5),  # the 31st day: kept
        date(2026, 11, 30),
        today,
    ]
    assert (KEEP_DAYS, KEEP_MONTHS) == (31, 36)
    assert expired_dates(dates, today) == [
        date(2023, 12, 31),
        date(2024, 1, 10),
        date(2026, 10, 15),
        date(2026, 11, 4),
    ]


def test_rebuild_deletes_what_retention_no_longer_keeps(world: dict[str, Any]) -> None:
    for day in (
        date(2023, 12, 31),
        date(2024, 1, 10),
        date(2024, 1, 31),
        date(2026, 10, 15),
        date(2026, 10, 20),
    ):
        snapshot_rebuild(day)
    snapshot_rebuild(date(2026, 12, 5))
    kept = {date(2024, 1, 31), date(2026, 10, 20), date(2026, 12, 5)}
    assert set(Snapshot.objects.values_list("as_of", flat=True)) == kept
    for model in (StatCell, ClassCell, StatRollup):
        assert set(model.objects.values_list("as_of", flat=True).distinct()) == kept


def test_central_school_classes_add_up_to_the_grade(tree: Any) -> None:
    """第22条: a teaching point's records belong under its central school — the central school's grade page
    lists the teaching point's classes too (labelled with their school), so the classes add up to the grade;
    the school's page lists its own pupils and each teaching point."""
    central = f.school("440105", "primary", name="海珠区中心小学")
    point = f.school("440105", "teaching_point", name="海珠区某村教学点", central_school=central)
    for i, (school, class_name) in enumerate(((central, "1班"), (central, "2班"), (point, "1班"))):
        e = sf.student(school, name=f"学生{f.han_digits(i + 1)}")
        Enrollment.objects.filter(pk=e.pk).update(grade=1, class_name=class_name)
    snapshot_rebuild()
    grade = breakdown(unit=central.org, by="grade")
    classes = breakdown(unit=central.org, by="class", grade=1, split="gender")
    direct = Enrollment.objects.filter(is_active=True, scope_path__startswith=central.org.path, grade=1)
    assert classes.total == {r.key: r.count for r in grade.rows}["1"] == direct.count() == 3
    assert {r.label: r.count for r in classes.rows} == {
        "海珠区中心小学 1班": 1,
        "海珠区中心小学 2班": 1,
        "海珠区某村教学点 1班": 1,
    }
    assert len({r.key for r in classes.rows}) == 3
    # the region table of a school with teaching points: its own pupils, then each point
    for g in (None, 1):
        region = breakdown(unit=central.org, by="region", grade=g)
        assert [(r.label, r.count, r.unit_id) for r in region.rows] == [
            ("海珠区中心小学（本校）", 2, None),
            ("海珠区某村教学点", 1, point.org.pk),
        ]
        assert region.total == direct.count()
    c = af.client()
    c.force_login(f.registrar(central))
    html = c.get(reverse("statistics:overview")).content.decode()
    assert 'data-testid="stat-region"' in html
    # the teaching point alone: its one class, keyed by the class name
    alone = breakdown(unit=point.org, by="class", grade=1)
    assert [(r.key, r.count) for r in alone.rows] == [("1班", 1)]
    # a grade the central school teaches only at the point: the class still says whose it is
    e = sf.student(point, name="学生四")
    Enrollment.objects.filter(pk=e.pk).update(grade=2, class_name="1班")
    snapshot_rebuild()
    only_point = breakdown(unit=central.org, by="class", grade=2)
    assert [(r.label, r.count) for r in only_point.rows] == [("海珠区某村教学点 1班", 1)]


def test_closed_units_without_students_are_not_listed(world: dict[str, Any]) -> None:
    county = f.dept("440105")
    closed = f.school("440105", "primary", name="海珠区已撤销小学")
    merged = f.school("440105", "primary", name="海珠区已合并小学")
    sf.student(merged, name="学生九")  # still holds a pupil: listed
    OrgUnit.objects.filter(pk__in=[closed.org.pk, merged.org.pk]).update(is_active=False)
    empty = f.school("440105", "primary", name="海珠区新建小学")  # active, no pupils: listed with zero
    snapshot_rebuild()
    for g in (None, 1):
        rows = {r.unit_id: r.count for r in breakdown(unit=county, by="region", grade=g).rows}
        assert closed.org.pk not in rows
        assert rows[merged.org.pk] == 1
        assert rows[empty.org.pk] == 0


def test_empty_ethnicity_reads_not_filled_in(world: dict[str, Any]) -> None:
    e = Enrollment.objects.filter(school=world["haizhu"]).first()
    assert e is not None
    Person.objects.filter(pk=e.person_id).update(ethnicity="")
    snapshot_rebuild()
    for g in (None, 1):
        rows = breakdown(unit=f.dept("440105"), by="ethnicity", grade=g).rows
        assert [(r.key, r.label) for r in rows][-1] == ("", "未填写")
        assert {r.key: r.count for r in rows} == {"01": 1, "": 1}


def test_a_chosen_date_ends_the_flows_with_its_month(world: dict[str, Any]) -> None:
    """Counts as of a date: the page's monthly flows then end, by default, with that date's month."""
    snapshot_rebuild(DAY1)
    snapshot_rebuild(DAY2)
    unit = f.dept("440105")
    c = _client(unit)

    def months(params: dict[str, str]) -> list[str]:
        html = c.get(reverse("statistics:overview"), {"unit": str(unit.pk), **params}).content.decode()
        section = html.split('data-testid="stat-flows"', 1)[1].split("</section>", 1)[0]
        return re.findall(r'<tr data-key="(\d{4}-\d{2})">', section)

    dated = months({"as_of": DAY1.isoformat()})
    assert len(dated) == 12 and dated[-1] == "2026-11" and dated[0] == "2025-12"
    assert months({"as_of": DAY1.isoformat(), "to": "2026-12"})[-1] == "2026-12"  # a period asked for wins
