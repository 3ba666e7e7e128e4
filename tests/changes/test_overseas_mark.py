"""Issue 8 item 5 / 第20条: a return from abroad leaves a visible mark of the overseas period on the record
itself (its header), not only in the change history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.changes.test_kind_abroad import BACK, _gone, _return, env  # noqa: F401 - the fixture
from xueji.changes.kinds.abroad import overseas_marks
from xueji.changes.services import change_decide
from xueji.students.models import Person

pytestmark = pytest.mark.django_db


def test_the_record_shows_the_overseas_period_after_the_return(client, env) -> None:  # noqa: F811
    e = _gone(env)
    assert overseas_marks(person_id=e.person_id) == ["2026-09-21 起 美国（尚未返回）"]
    person = Person.objects.get(pk=e.person_id)
    change_decide(actor=env["tianhe"], request=_return(env, person), action="approve", today=BACK)
    assert overseas_marks(person_id=person.pk) == ["2026-09-21 至 2028-07-15 美国"]
    client.force_login(env["reg_r"])
    body = client.get(reverse("students:detail", args=[person.pk])).content.decode()
    header = body[: body.index('class="tabs record-tabs"')]
    assert 'data-testid="overseas-mark"' in header and "2026-09-21 至 2028-07-15 美国" in header


def test_no_mark_without_an_overseas_period(client, env) -> None:  # noqa: F811
    from tests.factories import changes as c

    e = c.enrolled(env["primary"], grade=4)
    client.force_login(env["reg_p"])
    body = client.get(reverse("students:detail", args=[e.person_id])).content.decode()
    assert 'data-testid="overseas-mark"' not in body
