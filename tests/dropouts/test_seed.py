"""``manage.py seed_dropouts`` (issue 10 §3, 第17条): the demo ledger has school reports and leads, returns to
school in more than one month, and overdue cases escalated to the county and to the city; it runs once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from xueji.dropouts.enums import Escalation, Outcome, Source, State
from xueji.dropouts.models import CaseEscalation, DropoutCase

pytestmark = pytest.mark.django_db


def test_demo_ledger_has_leads_escalations_and_returns():  # type: ignore[no-untyped-def]
    call_command("seed", students=120, demo_departments_only=True, stdout=StringIO())
    out = StringIO()
    call_command("seed_dropouts", stdout=out)
    cases = list(DropoutCase.objects.all())
    assert len(cases) == 6, out.getvalue()
    assert {c.source for c in cases} == {Source.SCHOOL, Source.LEAD}
    assert all(c.lead_from for c in cases if c.source == Source.LEAD)
    returned = [c for c in cases if c.outcome == Outcome.RETURNED]
    assert len({(c.returned_on.year, c.returned_on.month) for c in returned if c.returned_on}) == 2
    open_levels = {c.escalation for c in cases if c.state == State.OPEN}
    assert {Escalation.COUNTY, Escalation.CITY} <= open_levels
    assert CaseEscalation.objects.filter(level=Escalation.CITY).exists()
    call_command("seed_dropouts", stdout=StringIO())  # idempotent
    assert DropoutCase.objects.count() == 6
