"""Concurrent approvals and idempotent retries under real parallel connections (issue #3; security.md tests 1
and 3). PostgreSQL only: SQLite serialises writers, so nothing here could race there.

- two approvers of one unit × N threads each decide the same step → one decision (one CHANGE_DECIDED event,
  one state change); the loser's calls are 409, the winner's duplicates are idempotent replays;
- one approver × N threads with one Idempotency-Key → one effect; every answer is the same receipt or a 409
  for a duplicate still in flight;
- N concurrent submissions with one Idempotency-Key → one request;
- a duplicate whose key is held by a transaction in flight → 409 ``idempotency_key_in_flight``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.changes.policy import NATIONAL_DEFAULTS
from xueji.changes.services import change_decide, change_submit, key_lock_id
from xueji.core.errors import ApplicationError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 8  # threads per approver (CI size; raise for release runs)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for parallel writers (run with DATABASE_URL=postgres://…)")


@pytest.fixture
def transfer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A same-county 转学 (第15条) waiting at the sending school, which has two registrars."""
    monkeypatch.setitem(NATIONAL_DEFAULTS, "transfer_blackout", [])
    from xueji.regions.models import OrgUnit

    if not OrgUnit.objects.filter(level="province", code="440000").exists():
        f.departments(("440000",))
    c.calendar()
    src, dst = f.school("440105", "primary"), f.school("440105", "primary")
    enrollment = c.enrolled(src, grade=3)
    req = change_submit(
        actor=f.registrar(dst),
        kind="transfer",
        enrollment=enrollment,
        target_school=dst,
        facts={"class_name": "1班"},
    )
    return {
        "request": req,
        "a": f.registrar(src),
        "b": f.registrar(src),
        "src": src,
        "dst": dst,
        "county": f.dept("440105"),
    }


def _decided(req: ChangeRequest) -> int:
    return sum(
        1
        for e in AuditEvent.objects.filter(event_type=EventType.CHANGE_DECIDED)
        if (e.after or {}).get("request") == str(req.pk)
    )


def _run(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at once (one thread and one connection each); results in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as exc:  # the test inspects every outcome
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread is still waiting (deadlock?)"
    return results


def _post(token: str, url: str, body: Any, key: str) -> tuple[int, bytes]:
    response = Client().post(
        url,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    return response.status_code, response.content


# --- the engine ----------------------------------------------------------------------------------------------


def test_two_approvers_racing_on_one_step_make_one_decision(transfer: dict[str, Any]) -> None:
    req, a, b = transfer["request"], transfer["a"], transfer["b"]

    def decide(actor: Any) -> Callable[[], str]:
        def call() -> str:
            try:
                change_decide(actor=actor, request=req, action="approve", position=1)
                return f"ok:{actor.pk}"
            except ApplicationError as exc:
                return f"{exc.code}:{actor.pk}"

        return call

    outcomes = _run([decide(a) for _ in range(N)] + [decide(b) for _ in range(N)])

    step = ApprovalStep.objects.get(request=req, position=1)
    winner, loser = (a, b) if step.decided_by_id == a.pk else (b, a)
    assert step.decided_by_id in {a.pk, b.pk} and step.state == "approved"
    assert sorted(outcomes) == sorted([f"ok:{winner.pk}"] * N + [f"step_already_decided:{loser.pk}"] * N)
    assert _decided(req) == 1
    fresh = ChangeRequest.objects.get(pk=req.pk)
    assert (fresh.state, fresh.current_position) == ("pending", 2)
    assert ApprovalStep.objects.get(request=req, position=2).state == "pending"
    assert Notification.objects.filter(org_unit=transfer["county"], request=req).count() == 1


# --- the API -------------------------------------------------------------------------------------------------


def test_two_approvers_racing_through_the_api(transfer: dict[str, Any]) -> None:
    req, a, b = transfer["request"], transfer["a"], transfer["b"]
    tokens = {a.pk: issue_token(a)[0], b.pk: issue_token(b)[0]}
    url = f"/api/v1/changes/{req.pk}/decisions"
    body = {"position": 1, "action": "approve", "comment": "同意"}
    calls = [
        (lambda uid=uid, i=i: _post(tokens[uid], url, body, key=f"{uid}-{i}"))
        for uid in (a.pk, b.pk)
        for i in range(N)
    ]

    results = _run(calls)

    step = ApprovalStep.objects.get(request=req, position=1)
    won = results[:N] if step.decided_by_id == a.pk else results[N:]
    lost = results[N:] if step.decided_by_id == a.pk else results[:N]
    assert {status for status, _ in won} == {200}
    assert len({content for _, content in won}) == 1
    assert {status for status, _ in lost} == {409}
    assert {json.loads(content)["code"] for _, content in lost} == {"step_already_decided"}
    assert _decided(req) == 1
    assert ChangeRequest.objects.get(pk=req.pk).current_position == 2


def test_one_approval_sent_concurrently_with_one_key_has_one_effect(transfer: dict[str, Any]) -> None:
    req, a = transfer["request"], transfer["a"]
    token = issue_token(a)[0]
    url = f"/api/v1/changes/{req.pk}/decisions"
    body = {"position": 1, "action": "approve"}

    results = _run([lambda: _post(token, url, body, key="same-approval") for _ in range(2 * N)])
    replay = _post(token, url, body, key="same-approval")

    ok = [content for status, content in results if status == 200]
    busy = [json.loads(content)["code"] for status, content in results if status == 409]
    assert ok and len(ok) + len(busy) == 2 * N
    assert set(busy) <= {"idempotency_key_in_flight"}
    assert set(ok) == {replay[1]} and replay[0] == 200
    assert _decided(req) == 1


def test_concurrent_submissions_with_one_key_create_one_request(transfer: dict[str, Any]) -> None:
    src = transfer["src"]
    registrar = transfer["a"]
    enrollment = c.enrolled(src, grade=4)
    token = issue_token(registrar)[0]
    today = timezone.localdate()
    body = {
        "kind": "suspension",
        "enrollment_id": str(enrollment.pk),
        "facts": {
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=60)).isoformat(),
            "reason": "illness",
            "applicant_name": "王家长",
        },
    }

    results = _run([lambda: _post(token, "/api/v1/changes/", body, key="one-submit") for _ in range(2 * N)])
    replay = _post(token, "/api/v1/changes/", body, key="one-submit")

    created = [content for status, content in results if status == 201]
    busy = [json.loads(content)["code"] for status, content in results if status == 409]
    assert created and len(created) + len(busy) == 2 * N
    assert set(busy) <= {"idempotency_key_in_flight"}
    assert set(created) == {replay[1]} and replay[0] == 201
    assert ChangeRequest.objects.filter(enrollment=enrollment).count() == 1
    submitted = [
        e
        for e in AuditEvent.objects.filter(event_type=EventType.CHANGE_SUBMITTED)
        if (e.after or {}).get("request") == json.loads(replay[1])["id"]
    ]
    assert len(submitted) == 1


def test_a_duplicate_in_flight_is_409(transfer: dict[str, Any]) -> None:
    """Another transaction holds the key (its request has not finished): the duplicate is refused at once."""
    req, a = transfer["request"], transfer["a"]
    token = issue_token(a)[0]
    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key_lock_id(a, "decide", "held-key")])
        status, content = _post(
            token, f"/api/v1/changes/{req.pk}/decisions", {"position": 1, "action": "approve"}, key="held-key"
        )
    finally:
        holder.rollback()
        holder.close()

    assert (status, json.loads(content)["code"]) == (409, "idempotency_key_in_flight")
    assert ApprovalStep.objects.get(request=req, position=1).state == "pending"
    status, _ = _post(
        token, f"/api/v1/changes/{req.pk}/decisions", {"position": 1, "action": "approve"}, key="held-key"
    )
    assert status == 200
