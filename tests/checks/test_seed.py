"""``manage.py seed_checks`` (issue 10 §2): the demo has problem records the checks found — overdue archives
(第6条), pupils without a class (第25条), suspensions past a year (第16条), records not promoted (第7条) — and
``manage.py run_checks`` runs the rules; both are idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from xueji.students.models import ProblemRecord

pytestmark = pytest.mark.django_db


def test_demo_problems_and_the_command():  # type: ignore[no-untyped-def]
    call_command("seed", students=120, demo_departments_only=True, stdout=StringIO())
    call_command("load_calendar", stdout=StringIO())
    out = StringIO()
    call_command("seed_checks", stdout=out)
    found = set(
        ProblemRecord.objects.filter(source="check", state="open").values_list("kind", flat=True).distinct()
    )
    assert {"archive_overdue", "no_class", "suspension_overdue", "not_promoted"} <= found, out.getvalue()
    count = ProblemRecord.objects.count()
    call_command("seed_checks", stdout=StringIO())
    ran = StringIO()
    call_command("run_checks", "--rule", "archive_overdue", stdout=ran)
    assert "archive_overdue: 0" in ran.getvalue()
    assert ProblemRecord.objects.count() == count
