"""学籍统计 (第5、23条): the snapshot's figures equal direct counts of the active enrollments behind them, by
every dimension and at every level; a unit outside the viewer's jurisdiction is 404; the API, the page and the
.xlsx export give the same numbers."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse
from openpyxl import load_workbook

from tests.factories import accounts as af
from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import FieldError, NotFound
from xueji.regions.models import OrgUnit
from xueji.statistics.models import StatCell
from xueji.statistics.queries import breakdown, stat_unit
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db

DIMS = ("grade", "gender", "status", "stage")


@pytest.fixture
def world(tree: Any) -> dict[str, Any]:
    """Students in three schools of two Guangzhou counties and one in Beijing, with varied grade, gender,
    status and stage; one enrollment inactive (a past 学籍, not counted)."""
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
        Enrollment.objects.filter(pk=e.pk).update(grade=grade, status=status, stage=stage)
        if i == 3:
            Person.objects.filter(pk=e.person_id).update(migrant_child=True, disability_type="4")
    gone = sf.student(tianhe, name="学生十")
    Enrollment.objects.filter(pk=gone.pk).update(is_active=False, status="10")
    return {"haizhu": haizhu, "haizhu2": haizhu2, "tianhe": tianhe, "beijing": beijing}


def direct(unit: OrgUnit, by: str) -> dict[str, int]:
    """The count straight from the enrollments, to compare the snapshot against."""
    field = {"gender": "person__gender"}.get(by, by)
    rows = (
        Enrollment.objects.filter(is_active=True, scope_path__startswith=unit.path)
        .values(field)
        .annotate(n=Count("pk"))
    )
    return {str(r[field]): r["n"] for r in rows}


def as_dict(unit: OrgUnit, by: str) -> dict[str, int]:
    return {r.key: r.count for r in breakdown(unit=unit, by=by).rows}


def test_rebuild_is_one_insert_and_replaces_the_snapshot(world: dict[str, Any]) -> None:
    first = snapshot_rebuild(date(2026, 12, 1))
    assert first == StatCell.objects.count() > 0
    assert (
        sum(StatCell.objects.values_list("count", flat=True))
        == Enrollment.objects.filter(is_active=True).count()
    )
    second = snapshot_rebuild(date(2026, 12, 2))
    assert second == first
    assert set(StatCell.objects.values_list("as_of", flat=True)) == {date(2026, 12, 2)}


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
    assert 'data-chart="bar"' in html and "vendor/echarts.min.js" in html and "js/charts.js" in html
    for by in ("region", *DIMS):
        api = c.get("/api/v1/statistics/counts", {"unit": str(unit.pk), "by": by})
        assert api.status_code == 200
        body = api.json()
        from_api = {r["key"]: r["count"] for r in body["rows"]}
        assert _page_numbers(html, by) == from_api == as_dict(unit, by)
        assert body["total"] == sum(from_api.values())

        before = AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count()
        export = c.get(reverse("statistics:export"), {"unit": str(unit.pk), "by": by})
        assert export.status_code == 200
        sheet = load_workbook(io.BytesIO(export.content)).active
        rows = list(sheet.iter_rows(values_only=True))[3:-1]
        labels = {r.label: r.count for r in breakdown(unit=unit, by=by).rows}
        assert {str(a): b for a, b in rows} == labels
        event = AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).latest("occurred_at")
        assert AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count() == before + 1
        assert event.subject_id == str(unit.pk) and event.actor_id == viewer.pk


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


def test_exports_are_rate_limited(world: dict[str, Any], settings: Any) -> None:
    """Issue 10 §5: statistics exports count against the account's export limit (429 beyond it, no file)."""
    snapshot_rebuild()
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "export": (1, 86400)}
    unit = f.dept("440100")
    c = af.client()
    c.force_login(f.user(Role.DEPT_REGISTRAR, unit))
    assert c.get(reverse("statistics:export"), {"unit": str(unit.pk), "by": "grade"}).status_code == 200
    assert c.get(reverse("statistics:export"), {"unit": str(unit.pk), "by": "grade"}).status_code == 429
    assert AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count() == 1
