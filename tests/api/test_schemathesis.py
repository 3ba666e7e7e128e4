"""Schemathesis over EVERY operation of the staff API as three roles (issue #6 §3.9, security.md testing 12).

The schema is loaded from ``/api/v1/openapi.json`` of the WSGI application itself and every request goes
through the WSGI application in this process: no server, no network (opening a socket fails the test).
Every case runs in its own savepoint, rolled back after the response: the fuzzer's writes never persist,
and the test's transaction is rolled back at the end as usual.

Bounded for CI: :data:`MAX_EXAMPLES` examples per operation and generation mode, no shrinking, no Hypothesis
deadline, derandomized (the same inputs every run, so a failure reproduces). Each role is one test; it
collects every failing operation before failing, so one run reports them all.

Checks: no 5xx (``not_a_server_error``), the body matches the declared response schema
(``response_schema_conformance``) and the status code is declared (``status_code_conformance``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.api.conftest import World
from xueji.accounts.auth import issue_token

MAX_EXAMPLES = 15  # per operation and role, across positive, negative and known-object inputs
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# A school registrar (writes students), a county registrar (approves changes), a security admin (no student
# data: every student endpoint must refuse cleanly).
ROLES = ["registrar_a", "county_a", "security_gd"]


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The real WSGI handler, minus the per-request connection recycling that would close the test's
    transaction (Django's own test client disconnects the same signal handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _no_network(*args: Any) -> None:
    raise AssertionError("the fuzzer must not open network connections: requests go to the WSGI app")


def _known_path_values(world: World) -> dict[str, Any]:
    """Identifiers of objects that exist, so that operations are exercised beyond their 404."""
    return {
        "person_id": str(world.student.pk),
        "school_id": world.school_a.pk,
        "org_id": world.school_a.org_id,
        "problem_id": world.problem.pk,
        "province_code": "440000",
    }


def _strategy(operation: Any, known: dict[str, Any]) -> Any:
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}
    strategies = [
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    ]
    if fixed and len(fixed) == len(names):
        strategies.append(operation.as_strategy(schemathesis.GenerationMode.POSITIVE, path_parameters=fixed))
    return st.one_of(strategies)


def _fuzz(operation: Any, headers: dict[str, str], known: dict[str, Any], statuses: set[int]) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, known))
    def run(case: Any) -> None:
        # Each case in its own savepoint, rolled back: the world stays as built, and a query the database
        # refuses (PostgreSQL aborts the transaction) does not poison the next case.
        savepoint = transaction.savepoint()
        try:
            response = case.call(headers=headers)
        finally:
            transaction.savepoint_rollback(savepoint)
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_survives_fuzzing(world: World, wsgi_app: Any, role: str, monkeypatch: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _no_network)
    headers = {"Authorization": f"Bearer {issue_token(world.users[role])[0]}"}
    known = _known_path_values(world)
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    answered: dict[str, set[int]] = {}
    started = time.monotonic()

    for operation in operations:
        op_started = time.monotonic()
        label = f"{operation.method.upper()} {operation.path}"
        answered[label] = set()
        try:
            _fuzz(operation, headers, known, answered[label])
        except (Exception, BaseExceptionGroup) as exc:  # collected, reported together below
            failures.append(f"{label}: {exc}"[:1500])
        if os.environ.get("SCHEMATHESIS_TIMES"):
            print(f"{time.monotonic() - op_started:6.2f} {label} {sorted(answered[label])}")

    elapsed = time.monotonic() - started
    succeeded = sorted(label for label, codes in answered.items() if any(200 <= c < 300 for c in codes))
    print(
        f"\nschemathesis {role}: {len(operations)} operations in {elapsed:.1f} s, {len(succeeded)} with a 2xx"
    )
    assert len(operations) >= 48
    assert all(answered.values()), "every operation was called"
    assert "GET /api/v1/auth/me" in succeeded, "the role is authenticated (not fuzzing a wall of 401s)"
    assert not failures, "\n\n".join(failures)
