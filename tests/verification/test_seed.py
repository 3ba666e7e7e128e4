"""``manage.py seed_verification`` (issue 10 §2 demo data): a round over 广东 whose deadline passed, with one
return accepted, one returned, one waiting for review and the rest overdue; idempotent; nothing without the demo."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from xueji.verification.enums import ReturnState
from xueji.verification.models import Finding, SchoolReturn, VerificationRound
from xueji.verification.queries import absent_without_case, returns_overdue

pytestmark = pytest.mark.django_db


def _run() -> str:
    out = io.StringIO()
    call_command("seed_verification", stdout=out)
    return out.getvalue()


def test_nothing_without_the_demo() -> None:
    assert "没有演示数据" in _run()
    assert not VerificationRound.objects.exists()


def test_demo_round_with_submitted_returned_and_overdue_schools() -> None:
    call_command("seed", students=120, demo_departments_only=True, stdout=io.StringIO())
    assert "已建立学籍核查" in _run()
    rnd = VerificationRound.objects.get()
    states = list(SchoolReturn.objects.filter(round=rnd).values_list("state", flat=True))
    assert states.count(ReturnState.ACCEPTED) == 1
    assert states.count(ReturnState.RETURNED) == 1
    assert states.count(ReturnState.SUBMITTED) == 1
    assert states.count(ReturnState.DRAFT) == len(states) - 3 > 0
    today = timezone.localdate()
    assert returns_overdue(rnd.scope_path, today).count() == len(states) - 2  # drafts and the returned one
    assert Finding.objects.count() == 3
    absent = Finding.objects.filter(kind="absent", enrollment__stage__in=["primary", "junior"]).count()
    assert absent_without_case(rnd.scope_path).count() == absent
    marker = SchoolReturn.objects.get(round=rnd, school__org__grants__user__username="school_registrar")
    assert marker.state == ReturnState.DRAFT
    assert "已有学籍核查批次" in _run()
    assert VerificationRound.objects.count() == 1 and Finding.objects.count() == 3
