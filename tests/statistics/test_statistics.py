"""学籍统计 (第5、23条): the snapshot's figures equal direct counts of the active enrollments behind them, by
every dimension and at every level; a unit outside the viewer's jurisdiction is 404; the API, the page and the
.xlsx export give the same numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse

from tests.factories import accounts as af
from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import FieldError, NotFound
from xueji.regions.models import OrgUnit
from xueji.statistics.models import ClassCell, StatCell, StatRollup
from xueji.statistics.queries import breakdown, snapshot_date, stat_unit
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db

DIMS = (
    "grade",
    "gender",
    "ethnicity",
    "status",
    "stage",
    "household_type",
    "migrant_child",
    "left_behind",
    "disabled",
)


@pytest.fixture
def world(tree: Any) -> dict[str, Any]:
    """Students in three schools of two Guangzhou counties and one in Beijing, with varied grade, class,
    gender, status, stage, ethnicity, household type and flags; one enrollment inactive (a past 学籍, not
    counted)."""
    haizhu = f.school("440105", "nine_year", name="海珠区九年一贯制学校")
    haizhu2 = f.school("440105", "primary", name="海珠区第二小学")
    tianhe = f.school("440106", "primary", name="天河区实验小学")
    beijing = f.school("110101", "primary", name="东城区小学")
    plan = [
        (haizhu, 1, "1", "01"),
        (haizhu, 1, "2", "01"),
        (haizhu, 7, "2", "02"),
        (haizhu, 8, "1", "01"),
        (haizhu2, 3, "1", "01"),
        (haizhu2, 3, "1", "05"),
        (tianhe, 2, "2", "01"),
        (tianhe, 6, "2", "01"),
        (beijing, 1, "1", "01"),
    ]
    for i, (school, grade, gender, status) in enumerate(plan):
        e = sf.student(school, name=f"学生{f.han_digits(i + 1)}", gender=gender)
        stage = "junior" if grade >= 7 else "primary"
        class_name = "2班" if i in (1, 5) else "1班"
        Enrollment.objects.filter(pk=e.pk).update(
            grade=grade, status=status, stage=stage, class_name=class_name
        )
        if i == 3:
            person = Person.objects.get(pk=e.person_id)  # the category is encrypted: written through save()
            person.migrant_child, person.disability_type = True, "4"
            person.save(update_fields=["migrant_child", "disability_type"])
        if i in (2, 6):
            Person.objects.filter(pk=e.person_id).update(ethnicity="08", household_type="1", left_behind="2")
        if i == 7:
            Person.objects.filter(pk=e.person_id).update(ethnicity="03", left_behind="1")
    gone = sf.student(tianhe, name="学生十")
    Enrollment.objects.filter(pk=gone.pk).update(is_active=False, status="10")
    return {"haizhu": haizhu, "haizhu2": haizhu2, "tianhe": tianhe, "beijing": beijing}


PERSON_FIELDS = {"gender", "ethnicity", "household_type", "migrant_child", "left_behind"}


def direct(unit: OrgUnit, by: str, grade: int | None = None) -> dict[str, int]:
    """The count straight from the enrollments (joined to their persons), to compare the snapshot against."""
    records = Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path)
    if grade is not None:
        records = records.filter(grade=grade)
    if by == "disabled":
        # The category is stored encrypted (issue 11 §3): read each record's, not the flag the snapshot counts.
        flags = [e.person.disability_type != "0" for e in records.select_related("person")]
        counts = {"1": sum(flags), "0": len(flags) - sum(flags)}
        return {k: n for k, n in counts.items() if n}
    field = f"person__{by}" if by in PERSON_FIELDS else {"class": "class_name"}.get(by, by)
    rows = records.values(field).annotate(n=Count("pk"))
    return {_text(r[field]): r["n"] for r in rows}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def as_dict(unit: OrgUnit, by: str) -> dict[str, int]:
    return {r.key: r.count for r in breakdown(unit=unit, by=by).rows}


def test_rebuild_is_one_insert_and_replaces_only_its_own_date(world: dict[str, Any]) -> None:
    first = snapshot_rebuild(date(2026, 12, 1))
    assert first == StatCell.objects.count() > 0
    assert (
        sum(StatCell.objects.values_list("count", flat=True))
        == Enrollment.objects.filter(is_active=True).count()
    )
    second = snapshot_rebuild(date(2026, 12, 2))
    assert second == first
    again = snapshot_rebuild(date(2026, 12, 2))  # the same day again: its rows replaced, not doubled
    assert again == first
    assert set(StatCell.objects.values_list("as_of", flat=True)) == {date(2026, 12, 1), date(2026, 12, 2)}
    assert StatCell.objects.filter(as_of=date(2026, 12, 2)).count() == first


def test_flags_are_kept_in_the_grain(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    flagged = StatCell.objects.get(migrant_child=True)
    assert flagged.disabled is True and flagged.count == 1
    assert not StatCell.objects.filter(migrant_child=False, disabled=True).exists()


@pytest.mark.parametrize("by", DIMS)
@pytest.mark.parametrize("code", ["440000", "440100", "440105", "110000"])
def test_snapshot_equals_direct_counts_for_departments(world: dict[str, Any], by: str, code: str) -> None:
    snapshot_rebuild()
    unit = f.dept(code)
    assert as_dict(unit, by) == direct(unit, by)
    assert (
        breakdown(unit=unit, by=by).total
        == Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path).count()
    )


@pytest.mark.parametrize("by", DIMS)
def test_snapshot_equals_direct_counts_for_a_school(world: dict[str, Any], by: str) -> None:
    snapshot_rebuild()
    unit = world["haizhu"].org
    assert as_dict(unit, by) == direct(unit, by)


@pytest.mark.parametrize("code", ["440000", "440100", "440105"])
def test_region_rows_equal_direct_counts_of_each_child(world: dict[str, Any], code: str) -> None:
    snapshot_rebuild()
    unit = f.dept(code)
    rows = breakdown(unit=unit, by="region").rows
    children = list(OrgUnit.objects.filter(parent=unit))
    assert [r.unit_id for r in rows] == [c.pk for c in sorted(children, key=lambda c: (c.level, c.code))]
    for row in rows:
        assert row.unit_id is not None
        child = OrgUnit.objects.get(pk=row.unit_id)
        assert (
            row.count == Enrollment.objects.filter(is_active=True, scope_path__startswith=child.path).count()
        )
    assert sum(r.count for r in rows) == breakdown(unit=unit, by="region").total > 0


def test_snapshot_is_a_snapshot_until_rebuilt(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    unit = world["tianhe"].org
    before = breakdown(unit=unit, by="grade").total
    sf.student(world["tianhe"], name="学生十一")
    assert breakdown(unit=unit, by="grade").total == before
    snapshot_rebuild()
    assert breakdown(unit=unit, by="grade").total == before + 1


def test_unknown_dimension_is_a_field_error(world: dict[str, Any]) -> None:
    with pytest.raises(FieldError) as exc:
        breakdown(unit=f.dept("440000"), by="name")
    assert "by" in exc.value.fields


def test_scope_outside_jurisdiction_is_not_found(world: dict[str, Any]) -> None:
    viewer = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    assert stat_unit(viewer=viewer, unit_id=None) == f.dept("440105")
    assert stat_unit(viewer=viewer, unit_id=world["haizhu"].org.pk) == world["haizhu"].org
    for outside in (f.dept("440106"), f.dept("440100"), f.dept("110000"), world["tianhe"].org):
        with pytest.raises(NotFound):
            stat_unit(viewer=viewer, unit_id=outside.pk)
    with pytest.raises(NotFound):
        stat_unit(viewer=viewer, unit_id="x")
    # an account that sees no student data (an admin) has no statistics at all
    with pytest.raises(NotFound):
        stat_unit(viewer=af.system_admin(f.dept("440000")), unit_id=None)


def _page_numbers(html: str, by: str) -> dict[str, int]:
    import re

    section = html.split(f'data-testid="stat-{by}"', 1)[1].split("</section>", 1)[0]
    keys = re.findall(r'<tr data-key="([^"]*)">', section)
    values = [int(v) for v in re.findall(r'data-value="(\d+)"', section)]
    return dict(zip(keys, values, strict=True))


def test_page_api_and_export_give_the_same_numbers(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    unit = f.dept("440100")
    viewer = f.user(Role.DEPT_REGISTRAR, unit)
    c = af.client()
    c.force_login(viewer)
    page = c.get(reverse("statistics:overview"), {"unit": str(unit.pk)})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-chart-type="bar"' in html and 'data-chart-type="treemap"' in html
    assert 'data-chart-type="stacked"' in html
    assert "vendor/echarts.min.js" in html and "js/charts.js" in html
    for by in ("region", *DIMS):
        api = c.get("/api/v1/statistics/counts", {"unit": str(unit.pk), "by": by})
        assert api.status_code == 200
        body = api.json()
        from_api = {r["key"]: r["count"] for r in body["rows"]}
        assert _page_numbers(html, by) == from_api == as_dict(unit, by)
        assert body["total"] == sum(from_api.values())

        before = AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count()
        # 第24条 (issue 11 §4): the page's export leads to the approved export request, prefilled ...
        export = c.get(reverse("statistics:export"), {"unit": str(unit.pk), "by": by})
        assert export.status_code == 302
        assert export["Location"] == f"{reverse('exports:new')}?source=statistics&unit={unit.pk}&by={by}"
        assert AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count() == before
        # ... and the file delivered after approval carries the page's numbers (tests/exports/test_statistics_exact.py)


def test_out_of_scope_is_404_on_page_api_and_export(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    viewer = f.user(Role.DEPT_REGISTRAR, f.dept("440105"))
    c = af.client()
    c.force_login(viewer)
    outside = f.dept("440106")
    assert c.get(reverse("statistics:overview"), {"unit": str(outside.pk)}).status_code == 404
    assert c.get("/api/v1/statistics/counts", {"unit": str(outside.pk), "by": "grade"}).status_code == 404
    before = AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count()
    assert c.get(reverse("statistics:export"), {"unit": str(outside.pk), "by": "grade"}).status_code == 404
    assert AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count() == before
    assert (
        c.get(reverse("statistics:export"), {"unit": str(f.dept("440105").pk), "by": "x"}).status_code == 400
    )
    bad = c.get("/api/v1/statistics/counts", {"by": "name"})
    assert bad.status_code == 422 and "by" in bad.json()["fields"]


def test_school_page_drills_by_grade_without_region(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    school = world["haizhu"]
    c = af.client()
    c.force_login(f.registrar(school))
    html = c.get(reverse("statistics:overview")).content.decode()
    assert 'data-testid="stat-grade"' in html and 'data-testid="stat-region"' not in html
    assert _page_numbers(html, "grade") == direct(school.org, "grade")


def test_nightly_task_is_scheduled_and_rebuilds(world: dict[str, Any]) -> None:
    from django.conf import settings
    from django.utils import timezone

    from tests.factories.tasks import run_queued_tasks
    from xueji.statistics.tasks import rebuild_snapshot

    assert settings.XUEJI_SCHEDULE["xueji.statistics.tasks.rebuild_snapshot"].startswith("daily")
    rebuild_snapshot.enqueue()
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert set(StatCell.objects.values_list("as_of", flat=True)) == {timezone.localdate()}
    assert (
        sum(StatCell.objects.values_list("count", flat=True))
        == Enrollment.objects.filter(is_active=True).count()
    )


def test_the_page_no_longer_hands_out_a_file(world: dict[str, Any], settings: Any) -> None:
    """第24条 (issue 11 §4): the statistics export goes through an approved export request — no file and no
    export event here; the export limit now counts the downloads of approved exports (tests/exports)."""
    snapshot_rebuild()
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "export": (1, 86400)}
    unit = f.dept("440100")
    c = af.client()
    c.force_login(f.user(Role.DEPT_REGISTRAR, unit))
    for _ in range(2):
        answer = c.get(reverse("statistics:export"), {"unit": str(unit.pk), "by": "grade"})
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("exports:new"))
    assert not AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).exists()


def test_class_table_is_rebuilt_with_the_snapshot(world: dict[str, Any]) -> None:
    snapshot_rebuild(date(2026, 12, 1))
    assert (
        sum(ClassCell.objects.values_list("count", flat=True))
        == Enrollment.objects.filter(is_active=True).count()
    )
    assert set(ClassCell.objects.values_list("as_of", flat=True)) == {date(2026, 12, 1)}
    snapshot_rebuild(date(2026, 12, 2))
    assert set(ClassCell.objects.values_list("as_of", flat=True)) == {date(2026, 12, 1), date(2026, 12, 2)}
    assert (
        sum(ClassCell.objects.filter(as_of=date(2026, 12, 2)).values_list("count", flat=True))
        == Enrollment.objects.filter(is_active=True).count()
    )


@pytest.mark.parametrize("grade", [1, 7, 8])
def test_class_drill_down_equals_direct_counts(world: dict[str, Any], grade: int) -> None:
    """School → grade → class: one row per class of the grade, each split by sex, equal to the records."""
    snapshot_rebuild()
    school = world["haizhu"].org
    table = breakdown(unit=school, by="class", grade=grade, split="gender")
    assert {r.key: r.count for r in table.rows} == direct(school, "class", grade)
    for row in table.rows:
        records = Enrollment.objects.filter(
            is_active=True, school_id=school.pk, grade=grade, class_name=row.key
        )
        assert row.parts == {g: records.filter(person__gender=g).count() for g in ("1", "2")}
    assert table.total == Enrollment.objects.filter(is_active=True, school_id=school.pk, grade=grade).count()


def test_class_needs_a_school_and_a_grade(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    for unit, grade in ((world["haizhu"].org, None), (f.dept("440105"), 1)):
        with pytest.raises(FieldError) as exc:
            breakdown(unit=unit, by="class", grade=grade)
        assert "grade" in exc.value.fields
    for bad in (0, 13, "x"):
        with pytest.raises(FieldError) as exc:
            breakdown(unit=world["haizhu"].org, by="gender", grade=bad)
        assert "grade" in exc.value.fields
    with pytest.raises(FieldError) as exc:
        breakdown(unit=world["haizhu"].org, by="gender", split="gender")
    assert "split" in exc.value.fields


@pytest.mark.parametrize("by", [d for d in DIMS if d != "grade"])
@pytest.mark.parametrize("grade", [1, 3])
def test_one_grade_equals_direct_counts(world: dict[str, Any], by: str, grade: int) -> None:
    snapshot_rebuild()
    for unit in (f.dept("440100"), world["haizhu"].org, world["haizhu2"].org):
        assert as_dict_in_grade(unit, by, grade) == direct(unit, by, grade)


def as_dict_in_grade(unit: OrgUnit, by: str, grade: int) -> dict[str, int]:
    return {r.key: r.count for r in breakdown(unit=unit, by=by, grade=grade).rows}


@pytest.mark.parametrize("by", ["region", "grade", "status", "ethnicity"])
def test_split_by_gender_equals_direct_counts(world: dict[str, Any], by: str) -> None:
    """The stacked bars' numbers: each row's count by sex, straight from the records."""
    snapshot_rebuild()
    unit = f.dept("440100")
    table = breakdown(unit=unit, by=by, split="gender")
    assert [p.key for p in table.parts] == ["1", "2"]
    for row in table.rows:
        records = Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path)
        if by == "region":
            assert row.unit_id is not None
            records = records.filter(scope_path__startswith=OrgUnit.objects.get(pk=row.unit_id).path)
        else:
            field = f"person__{by}" if by in PERSON_FIELDS else by
            records = records.filter(**{field: row.key})
        assert row.parts == {g: records.filter(person__gender=g).count() for g in ("1", "2")}
        assert sum(row.parts.values()) == row.count
    assert [n for _p, n in table.part_totals] == [
        Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path, person__gender=g).count()
        for g in ("1", "2")
    ]


def test_labels_of_the_new_dimensions(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    unit = f.dept("440000")
    labels = {by: {r.key: r.label for r in breakdown(unit=unit, by=by).rows} for by in DIMS}
    assert labels["ethnicity"] == {"01": "汉族", "03": "回族", "08": "壮族"}
    assert list(labels["ethnicity"]) == ["01", "03", "08"]  # code order
    assert labels["migrant_child"] == {"1": "进城务工人员随迁子女", "0": "非随迁子女"}
    assert labels["disabled"] == {"1": "残疾", "0": "无残疾"}
    assert labels["left_behind"] == {"0": "非留守儿童", "1": "单亲留守儿童", "2": "双亲留守儿童"}
    assert labels["household_type"]["1"] == "农业户口"


def test_api_class_split_and_errors(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    school = world["haizhu"]
    c = af.client()
    c.force_login(f.registrar(school))
    body = c.get("/api/v1/statistics/counts", {"by": "class", "grade": "1", "split": "gender"}).json()
    assert body["unit_id"] == school.org.pk and body["grade"] == 1 and body["split"] == "gender"
    assert (
        {r["key"]: r["count"] for r in body["rows"]} == direct(school.org, "class", 1) == {"1班": 1, "2班": 1}
    )
    assert {r["key"]: r["parts"] for r in body["rows"]} == {"1班": {"1": 1, "2": 0}, "2班": {"1": 0, "2": 1}}
    missing = c.get("/api/v1/statistics/counts", {"by": "class"})
    assert missing.status_code == 400 and "grade" in missing.json()["fields"]
    assert c.get("/api/v1/statistics/counts", {"by": "grade", "grade": "13"}).status_code == 422
    assert c.get("/api/v1/statistics/counts", {"by": "grade", "split": "status"}).status_code == 422


def test_school_page_drills_into_a_grade_and_its_classes(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    school = world["haizhu"]
    c = af.client()
    c.force_login(f.registrar(school))
    html = c.get(reverse("statistics:overview")).content.decode()
    assert f"?unit={school.org.pk}&amp;grade=1" in html  # the grade rows link to their classes
    page = c.get(reverse("statistics:overview"), {"unit": str(school.org.pk), "grade": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="stat-class"' in html and 'data-testid="stat-grade"' not in html
    assert _page_numbers(html, "class") == direct(school.org, "class", 1)
    for by in ("gender", "ethnicity", "migrant_child", "disabled"):
        assert _page_numbers(html, by) == direct(school.org, by, 1)
    assert c.get(reverse("statistics:overview"), {"grade": "x"}).status_code == 400


def test_grade_step_is_for_schools_only(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    unit = f.dept("440105")
    c = af.client()
    c.force_login(f.user(Role.DEPT_REGISTRAR, unit))
    assert c.get(reverse("statistics:overview"), {"unit": str(unit.pk), "grade": "1"}).status_code == 400
    school = world["haizhu"].org
    assert c.get(reverse("statistics:overview"), {"unit": str(school.pk), "grade": "1"}).status_code == 200


def test_export_of_a_split_table_in_one_grade(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    school = world["haizhu"]
    c = af.client()
    c.force_login(f.registrar(school))
    params = {"unit": str(school.org.pk), "by": "class", "grade": "1", "split": "gender"}
    export = c.get(reverse("statistics:export"), params)
    assert export.status_code == 302
    location = export["Location"]
    assert location.startswith(f"{reverse('exports:new')}?source=statistics&unit={school.org.pk}&by=class")
    assert "split=gender" in location and "grade=1" in location
    assert c.get(reverse("statistics:export"), {**params, "grade": ""}).status_code == 400
    assert c.get(reverse("statistics:export"), {**params, "split": "x"}).status_code == 400


def test_unit_figures_come_from_the_rollup(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    """Without a grade a unit's figures are one indexed lookup of its StatRollup rows (not a sum over every
    cell of its subtree), and those rows add up to the unit's active enrollments for every dimension."""
    snapshot_rebuild()
    unit = f.dept("440000")
    active = Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path).count()
    for dim in DIMS:
        assert (
            sum(StatRollup.objects.filter(unit_id=unit.pk, dim=dim).values_list("count", flat=True)) == active
        )
    with django_assert_max_num_queries(2):  # the snapshot date, the rollup rows
        breakdown(unit=unit, by="ethnicity", split="gender")
    with django_assert_max_num_queries(3):  # + the child units
        breakdown(unit=unit, by="region", split="gender")
    as_of = snapshot_date()
    with django_assert_max_num_queries(1):  # the date read once per request and passed in: the rows only
        breakdown(unit=unit, by="ethnicity", split="gender", as_of=as_of)
    StatRollup.objects.filter(unit_id=unit.pk, dim="ethnicity").delete()
    assert breakdown(unit=unit, by="ethnicity").rows == []  # read from the rollup, not the cells
    assert as_dict_in_grade(unit, "ethnicity", 1) == direct(unit, "ethnicity", 1)  # a grade reads the cells


LEVELS = ("national", "province", "city", "county", "school", "school+grade")


def _level_unit(world: dict[str, Any], level: str) -> tuple[OrgUnit, int | None]:
    if level == "national":
        return OrgUnit.objects.get(level="national"), None
    if level.startswith("school"):
        return world["haizhu"].org, (1 if level == "school+grade" else None)
    return f.dept({"province": "440000", "city": "440100", "county": "440105"}[level]), None


@pytest.mark.parametrize("level", LEVELS)
def test_api_equals_direct_counts_at_every_level(world: dict[str, Any], level: str) -> None:
    """第5、23条: at every level of the drill-down (national → province → city → county → school → grade) every
    figure of the API equals a direct count of the active enrollments behind it."""
    snapshot_rebuild()
    unit, grade = _level_unit(world, level)
    c = af.client()
    c.force_login(f.user(Role.DEPT_REGISTRAR, OrgUnit.objects.get(level="national")))
    records = Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path)
    if grade is not None:
        records = records.filter(grade=grade)
    dims = [d for d in DIMS if not (grade is not None and d == "grade")]
    if unit.level != "school":
        dims.append("region")
    if grade is not None:
        dims.append("class")
    for by in dims:
        params: dict[str, Any] = {"unit": unit.pk, "by": by}
        if grade is not None:
            params["grade"] = grade
        body = c.get("/api/v1/statistics/counts", params).json()
        got = {r["key"]: r["count"] for r in body["rows"]}
        if by == "region":
            expected = {
                str(child.pk): records.filter(scope_path__startswith=child.path).count()
                for child in OrgUnit.objects.filter(parent=unit)
            }
        else:
            expected = direct(unit, by, grade)
        assert got == expected, by
        assert body["total"] == records.count() > 0
        assert body["as_of"] == snapshot_date().isoformat()  # type: ignore[union-attr]
