"""Closing a round races the schools' and counties' writes (第25条: after the round ends the results stay as they
are). PostgreSQL only: SQLite serialises writers, so nothing here could race there.

A submit, finding or review that starts while the close is in flight waits for it (share lock on the round row)
and then sees the round closed; it never commits a change to a closed round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction

from tests.factories import changes as c
from tests.factories import core as f
from xueji.core.errors import Conflict
from xueji.verification.enums import FindingKind, ReturnState, RoundState, Whereabouts
from xueji.verification.models import Finding, SchoolReturn, VerificationRound
from xueji.verification.services import finding_save, return_accept, return_submit, round_close, round_open

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for parallel writers (run with DATABASE_URL=postgres://…)")


@pytest.fixture
def world(today):  # type: ignore[no-untyped-def]
    from xueji.regions.models import OrgUnit

    if not OrgUnit.objects.filter(level="province", code="440000").exists():
        f.departments(("440000",))
    school = f.school("440105", "primary")
    province = c.dept_registrar("440000")
    rnd = round_open(actor=province, unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
                     deadline=today + timedelta(days=5))  # fmt: skip
    return {
        "school": school,
        "pupil": c.enrolled(school, grade=3),
        "reg": f.registrar(school),
        "county": c.dept_registrar("440105"),
        "province": province,
        "rnd": rnd,
    }


def _ret(w: dict[str, Any]) -> SchoolReturn:
    return SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer").get(
        round=w["rnd"], school=w["school"]
    )


def _during_close(w: dict[str, Any], write: Callable[[], Any]) -> Any:
    """Run ``write`` in another connection while the close holds the round row and has not committed yet; let
    the close commit; return what ``write`` returned or raised."""
    closed, release = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def close() -> None:
        try:
            with transaction.atomic():
                round_close(actor=w["province"], rnd=w["rnd"])
                closed.set()
                release.wait(10)
        finally:
            connections.close_all()

    def other() -> None:
        try:
            result["value"] = write()
        except Exception as exc:  # the outcome is what the test checks
            result["value"] = exc
        finally:
            connections.close_all()

    closer = threading.Thread(target=close)
    closer.start()
    assert closed.wait(10)
    writer = threading.Thread(target=other)
    writer.start()
    time.sleep(0.5)
    waited = writer.is_alive()  # blocked on the round row until the close commits
    release.set()
    closer.join(10)
    writer.join(10)
    assert not closer.is_alive() and not writer.is_alive(), "a thread is still waiting (deadlock?)"
    assert waited, "the write did not wait for the close"
    return result["value"]


def test_submit_during_close_waits_and_is_refused(world):  # type: ignore[no-untyped-def]
    ret = _ret(world)
    outcome = _during_close(world, lambda: return_submit(actor=world["reg"], ret=ret))
    assert isinstance(outcome, Conflict) and outcome.code == "round_closed"
    assert VerificationRound.objects.get().state == RoundState.CLOSED
    assert SchoolReturn.objects.get().state == ReturnState.DRAFT


def test_finding_during_close_waits_and_is_refused(world):  # type: ignore[no-untyped-def]
    ret = _ret(world)
    outcome = _during_close(
        world,
        lambda: finding_save(actor=world["reg"], ret=ret, enrollment_id=world["pupil"].pk,
                             kind=FindingKind.ABSENT, whereabouts=Whereabouts.UNKNOWN, detail="下落不明"),
    )  # fmt: skip
    assert isinstance(outcome, Conflict) and outcome.code == "round_closed"
    assert not Finding.objects.exists()


def test_review_during_close_waits_and_is_refused(world):  # type: ignore[no-untyped-def]
    return_submit(actor=world["reg"], ret=_ret(world))
    ret = _ret(world)
    outcome = _during_close(world, lambda: return_accept(actor=world["county"], ret=ret))
    assert isinstance(outcome, Conflict) and outcome.code == "round_closed"
    assert SchoolReturn.objects.get().state == ReturnState.SUBMITTED


def test_close_waits_for_a_write_in_flight(world):  # type: ignore[no-untyped-def]
    """The other order: a submit holding the round's share lock finishes first, then the close goes through."""
    inside, release = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def submit() -> None:
        try:
            with transaction.atomic():
                out["ret"] = return_submit(actor=world["reg"], ret=_ret(world))
                inside.set()
                release.wait(10)
        finally:
            connections.close_all()

    def close() -> None:
        try:
            out["rnd"] = round_close(actor=world["province"], rnd=world["rnd"])
        finally:
            connections.close_all()

    t1 = threading.Thread(target=submit)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=close)
    t2.start()
    time.sleep(0.5)
    assert t2.is_alive()  # the close waits for the submit
    release.set()
    t1.join(10)
    t2.join(10)
    assert not t1.is_alive() and not t2.is_alive()
    assert SchoolReturn.objects.get().state == ReturnState.SUBMITTED
    assert VerificationRound.objects.get().state == RoundState.CLOSED
