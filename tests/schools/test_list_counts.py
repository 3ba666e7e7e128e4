"""School lists whose cost follows the page, not the region (issue 7): ``school_list`` carries no aggregate
(a picker or a page takes a few rows of a region with millions of enrollments), and the active-student counts
are added for the rows shown only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.schools.queries import school_list, with_active_counts

pytestmark = pytest.mark.django_db


def test_school_list_has_no_aggregate(tree):
    county = f.user("dept_registrar", f.dept("440105"))
    f.school("440105", "primary")
    with CaptureQueriesContext(connection) as queries:
        list(school_list(viewer=county))
    [sql] = [q["sql"].upper() for q in queries.captured_queries if "SCHOOLS_SCHOOL" in q["sql"].upper()]
    assert "COUNT(" not in sql
    assert "GROUP BY" not in sql
    assert "STUDENTS_ENROLLMENT" not in sql


def test_counts_are_for_the_rows_given_and_only_active_enrollments(tree):
    first = f.school("440105", "primary")
    second = f.school("440105", "junior")
    c.enrolled(first, grade=3)
    c.enrolled(first, grade=4)
    gone = c.enrolled(first, grade=5)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    c.enrolled(second, grade=7)

    with CaptureQueriesContext(connection) as queries:
        rows = with_active_counts([first, second])

    assert [(s.pk, s.active_students) for s in rows] == [(first.pk, 2), (second.pk, 1)]
    assert len(queries.captured_queries) == 1
    assert with_active_counts([]) == []


def test_the_school_page_shows_the_counts(client, tree):
    school = f.school("440105", "primary")
    c.enrolled(school, grade=3)
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    response = client.get(reverse("schools:list"))
    assert response.status_code == 200
    [row] = [s for s in response.context["page"] if s.pk == school.pk]
    assert row.active_students == 1
