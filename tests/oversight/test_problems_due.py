"""The oversight "problems" count (第9、26条) is the problem records past their OWN deadline (``due_on`` before
today, still open) — the same records as the checks queue's "overdue" filter, not an age since creation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import changes as cf
from tests.oversight.seed import problem
from xueji.checks.queries import QueueFilters, problem_queue
from xueji.oversight.queries import Window, metric_items, metric_named, oversight_rows
from xueji.students.models import ProblemRecord

pytestmark = pytest.mark.django_db


def test_problems_count_records_past_their_due_day_as_the_checks_queue_does(school_a):  # type: ignore[no-untyped-def]
    old_not_due = problem(school_a, days_old=90, due_in=5)  # old, but its deadline has not passed
    young_late = problem(school_a, days_old=2, due_in=-1)  # found two days ago, due yesterday
    problem(school_a, days_old=40, due_in=0)  # due today: not yet overdue
    problem(school_a, days_old=40, due_in=-3, state=ProblemRecord.State.MERGED)  # closed
    county = school_a.org.parent
    window = Window.default()
    [row] = [r for r in oversight_rows(unit=county, window=window) if r.unit.pk == school_a.org_id]
    assert row.counts["problems"] == 1
    items = list(metric_items(unit=county, metric=metric_named("problems"), window=window))
    assert [p.pk for p in items] == [young_late.pk]
    assert old_not_due.pk not in {p.pk for p in items}
    queue = problem_queue(
        viewer=cf.dept_registrar("440105"), filters=QueueFilters(overdue=True), today=timezone.localdate()
    )
    assert sorted(p.pk for p in queue) == [young_late.pk]
