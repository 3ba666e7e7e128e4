"""A record page whose cost does not grow with its history (issue 7): the latest rows of each history are on
the page, the rest load on demand (htmx), scoped like the record itself."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from tests.factories import changes as c
from xueji.audit.services import record
from xueji.changes import views as change_views
from xueji.changes.services import change_cancel, change_submit
from xueji.students import views as student_views

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
HTMX = {"HTTP_HX_REQUEST": "true"}


def _events(enrollment, n: int) -> None:
    for i in range(n):
        record(
            event_type="student.updated",
            actor=None,
            subject_type="student",
            subject_id=enrollment.person_id,
            summary=f"第{i:03d}次修改",
        )


def test_history_shows_the_latest_and_loads_the_rest(client, registrar_a, school_a, monkeypatch):
    monkeypatch.setattr(student_views, "HISTORY_FIRST", 3)
    e = c.enrolled(school_a, registrar=registrar_a)
    _events(e, 5)
    client.force_login(registrar_a)
    page = client.get(reverse("students:detail", args=[e.person_id]) + "?views=0").content.decode()
    assert "第004次修改" in page and "第002次修改" in page and "第001次修改" not in page
    assert "显示更早的记录" in page
    more = client.get(
        reverse("students:history", args=[e.person_id]), {"part": "events", "offset": 3, "views": 0}, **HTMX
    )
    body = more.content.decode()
    assert more.status_code == 200 and "<html" not in body
    assert "第001次修改" in body and "第000次修改" in body and "第002次修改" not in body


def test_history_batches_are_scoped_like_the_record(client, registrar_a, school_a, school_b):
    """第5、23条: another county's record's history is 404, whichever part is asked for."""
    other = c.enrolled(school_b)
    client.force_login(registrar_a)
    for part in ("events", "fields"):
        response = client.get(reverse("students:history", args=[other.person_id]), {"part": part}, **HTMX)
        assert response.status_code == 404, part
    response = client.get(reverse("changes:timeline", args=[other.person_id]), **HTMX)
    assert response.status_code == 404


def test_change_timeline_shows_the_latest_and_loads_the_rest(client, registrar_a, school_a, monkeypatch):
    monkeypatch.setattr(change_views, "TIMELINE_FIRST", 1)
    c.calendar()
    e = c.enrolled(school_a, registrar=registrar_a, grade=4)
    facts = {
        "start_date": "2026-10-08",
        "end_date": "2027-07-01",
        "reason": "illness",
        "applicant_name": "张大明",
    }
    first = change_submit(actor=registrar_a, kind="suspension", enrollment=e, facts=dict(facts), today=DAY)
    change_cancel(actor=registrar_a, request=first, reason="家长撤回")
    second = change_submit(actor=registrar_a, kind="suspension", enrollment=e, facts=dict(facts), today=DAY)
    client.force_login(registrar_a)
    page = client.get(reverse("students:detail", args=[e.person_id])).content.decode()
    assert reverse("changes:detail", args=[second.pk]) in page
    assert reverse("changes:detail", args=[first.pk]) not in page
    assert "显示更早的学籍变动" in page
    assert '<span class="count">2</span>' in page  # the tab counts every request, not the shown ones
    more = client.get(reverse("changes:timeline", args=[e.person_id]), {"offset": 1}, **HTMX).content.decode()
    assert reverse("changes:detail", args=[first.pk]) in more and "显示更早的学籍变动" not in more
