"""Maintained counts of active enrollments (issue 7, xueji/students/counters.py): whatever writes the
enrollments, the count equals the count of the region's rows, before and after the deltas are folded."""

from __future__ import annotations

import pytest

from tests.factories import core as f
from tests.factories import students as sf
from xueji.students.counters import TRIGGERS, active_count, counts_compact, triggers_installed
from xueji.students.models import Enrollment, SchoolActiveCount, SchoolCountDelta
from xueji.students.queries import StudentFilters, enrollment_list

pytestmark = pytest.mark.django_db


def _rows(viewer) -> int:  # type: ignore[no-untyped-def]
    return enrollment_list(viewer=viewer, filters=StudentFilters()).count()


def test_the_triggers_exist_after_the_migrations():
    """A migration that rebuilds students_enrollment on SQLite drops them: it must install them again."""
    assert triggers_installed() == set(TRIGGERS)


def test_counts_follow_every_kind_of_write_and_survive_compaction(registrar_a, school_a, school_b):
    county = f.user("dept_registrar", school_a.org.parent)
    registrar_b = f.registrar(school_b, username="reg_b")
    a = [sf.student(school_a, registrar_a, name=f"甲{f.han_digits(i)}") for i in range(3)]
    sf.student(school_b, registrar_b, name="乙")
    assert active_count(viewer=registrar_a) == _rows(registrar_a) == 3
    assert active_count(viewer=registrar_b) == 1

    Enrollment.objects.filter(pk=a[0].pk).update(is_active=False)  # e.g. graduation, withdrawal
    Enrollment.objects.filter(pk=a[1].pk).update(school=school_b, scope_path=school_b.org.path)  # a merger
    assert active_count(viewer=registrar_a) == _rows(registrar_a) == 1
    assert active_count(viewer=registrar_b) == _rows(registrar_b) == 2

    assert counts_compact() > 0
    assert not SchoolCountDelta.objects.exists()
    assert SchoolActiveCount.objects.get(school=school_a).active == 1
    assert active_count(viewer=registrar_a) == 1 and active_count(viewer=registrar_b) == 2
    assert active_count(viewer=county) == _rows(county)

    Enrollment.objects.filter(pk=a[2].pk).delete()
    Enrollment.objects.filter(pk=a[0].pk).update(is_active=True)
    assert active_count(viewer=registrar_a) == _rows(registrar_a) == 1
    assert counts_compact() == 2 and active_count(viewer=registrar_a) == 1


def test_a_viewer_without_data_scope_counts_nothing(school_a, registrar_a):
    sf.student(school_a, registrar_a, name="甲")
    assert active_count(viewer=f.user("audit_admin", f.dept("000000"))) == 0


def test_the_dashboard_shows_the_maintained_count(client, registrar_a, school_a):
    for i in range(2):
        sf.student(school_a, registrar_a, name=f"甲{f.han_digits(i)}")
    counts_compact()
    sf.student(school_a, registrar_a, name="丙")  # pending, not folded yet
    client.force_login(registrar_a)
    response = client.get("/")
    assert response.context["stats"]["active"] == 3
    assert '<div class="num">3</div><div class="label">在籍学生<span' in response.content.decode()
