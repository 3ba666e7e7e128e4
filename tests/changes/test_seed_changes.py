"""``manage.py seed_changes`` (issue 10 §1): after ``seed`` the demo has applied changes of every kind the flows
chart counts — transfers out and in (第15条), suspensions and a resumption (第16条), a senior-high withdrawal
(第18条), a death (第21条) and, in the graduation season, graduations (第19条) — spread over recent months, made
through the change services (every request approved step by step); it runs once."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from xueji.audit.models import AuditEvent
from xueji.changes.management.commands.seed_changes import MARK
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.changes.workflow import StepState
from xueji.regions.services import department_for
from xueji.statistics.queries import flows
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db


def _seed(today: str) -> str:
    call_command("load_calendar", stdout=StringIO())
    call_command("seed", students=300, demo_departments_only=True, stdout=StringIO())
    out = StringIO()
    call_command("seed_changes", today=date.fromisoformat(today), stdout=out)
    return out.getvalue()


def _flows(start: date, end: date) -> dict[str, dict[str, int]]:
    snapshot_rebuild()
    table = flows(unit=department_for("440105"), start=start, end=end)
    return {row.key: row.parts for row in table.rows}


def _months_with(table: dict[str, dict[str, int]], kind: str) -> dict[str, int]:
    return {month: parts[kind] for month, parts in table.items() if parts[kind]}


def test_demo_changes_fill_the_monthly_flows_once() -> None:
    out = _seed("2026-11-20")
    requests = list(ChangeRequest.objects.filter(note=MARK))
    assert {r.state for r in requests} == {"approved"}, out
    assert sorted(r.kind for r in requests) == sorted(
        ["transfer"] * 3 + ["suspension"] * 3 + ["resumption", "withdrawal", "death"]
    ), out
    # through the workflow: every step of every chain decided, nothing left pending
    assert not ApprovalStep.objects.filter(request__in=requests, state=StepState.PENDING).exists()
    assert AuditEvent.objects.filter(event_type="change.applied").count() == len(requests)
    # 第18条: the withdrawal is a senior-high pupil's
    withdrawn = next(r for r in requests if r.kind == "withdrawal")
    assert Enrollment.objects.get(pk=withdrawn.enrollment_id).stage == "senior"

    table = _flows(date(2026, 1, 1), date(2026, 12, 1))
    expected = {
        "transfer_out": 3,
        "transfer_in": 3,
        "suspension": 3,
        "resumption": 1,
        "withdrawal": 1,
        "death": 1,
    }
    for kind, n in expected.items():
        assert sum(_months_with(table, kind).values()) == n, (kind, table)
    # dated back over recent months of this school year (2026-09-06 … 2026-11-08)
    busy = {month for month, parts in table.items() if any(parts[k] for k in expected)}
    assert busy == {"2026-09", "2026-10", "2026-11"}
    assert _months_with(table, "transfer_out") == {"2026-09": 1, "2026-10": 1, "2026-11": 1}
    assert not _months_with(table, "graduation")  # not the graduation season

    again = StringIO()
    call_command("seed_changes", today=date(2026, 11, 20), stdout=again)  # idempotent
    assert "未再办理" in again.getvalue()
    assert ChangeRequest.objects.count() == len(requests)
    assert _flows(date(2026, 1, 1), date(2026, 12, 1)) == table


def test_graduations_in_the_season_and_no_transfer_in_the_summer_stop() -> None:
    """In August the graduating grades graduate (第19条); a transfer due in the summer stop (7/15–8/14) is
    dated before it instead."""
    out = _seed("2026-08-20")
    table = _flows(date(2026, 1, 1), date(2026, 8, 1))
    assert _months_with(table, "graduation") == {"2026-08": 4}, out
    graduates = ChangeRequest.objects.filter(note=MARK, kind="graduation")
    assert {Enrollment.objects.get(pk=r.enrollment_id).grade for r in graduates} == {6, 9, 12}
    transfers = ChangeRequest.objects.filter(note=MARK, kind="transfer").order_by("effective_on")
    assert [r.effective_on for r in transfers] == [date(2026, 6, 6), date(2026, 7, 6), date(2026, 7, 14)]
    assert sum(_months_with(table, "transfer_in").values()) == 3
