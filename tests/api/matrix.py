"""The jurisdiction matrix of the API (issue §7, architecture.md convention 11), shared by every router's matrix
test (tests/api/test_jurisdiction_matrix.py, tests/api/test_changes.py): the actors, the default expectation
of an endpoint that reads one student of 海珠区第一小学, the endpoint description and the check of one answer.

Actors (users of ``tests.api.conftest.World``): anonymous; the audit and security administrators (三权分立,
wrong role); the registrar of 天河区's school and a 北京东城区 department registrar (other region); 海珠区第一小学's
registrar, the 海珠区 department registrar and the 广东省 registrar (allowed readers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest

ACTORS = (
    "anonymous",
    "audit_gd",
    "security_gd",
    "registrar_b",
    "county_bj",
    "registrar_a",
    "county_a",
    "province_gd",
)
READERS = ("registrar_a", "county_a", "province_gd")
# A list answers the other region 200 (without the student) where a detail answers 404.
LIST_OTHER_REGION = {"registrar_b": 200, "county_bj": 200}

UNAUTHENTICATED = {"code": "unauthenticated", "message": "请先登录或提供有效令牌", "fields": {}}

W = TypeVar("W")


def expect(**overrides: int) -> dict[str, int]:
    """Status per actor of an endpoint that reads one student of school_a, with ``overrides``."""
    base = {
        "anonymous": 401,
        "audit_gd": 403,
        "security_gd": 403,
        "registrar_b": 404,
        "county_bj": 404,
        "registrar_a": 200,
        "county_a": 200,
        "province_gd": 200,
    }
    base.update(overrides)
    return base


@dataclass(frozen=True)
class Endpoint(Generic[W]):
    """One operation of the matrix; the callables take the test's world (``W``)."""

    name: str
    method: str
    url: Callable[[W], str]
    expect: dict[str, int]
    body: Callable[[W], Any] = lambda w: None
    # Text that must appear in a 2xx body for ``shows`` actors and in no other body (default: the student's
    # name; the world must have a ``student``).
    marker: Callable[[W], str] = lambda w: w.student.name  # type: ignore[attr-defined]
    shows: tuple[str, ...] = READERS
    # Sent with an ``Idempotency-Key`` header (the test decides how).
    keyed: bool = False


def cases(endpoints: Iterable[Endpoint[Any]]) -> list[Any]:
    """Every endpoint × every actor, with readable ids (``students.detail-county_bj``)."""
    return [pytest.param(e, who, id=f"{e.name}-{who}") for e in endpoints for who in ACTORS]


def check(
    response: Any, *, who: str, expected: int, marker: str, shows: tuple[str, ...], hidden: Iterable[str]
) -> str:
    """Assert one answer of the matrix and return its body (JSON text, characters unescaped).

    2xx: the marker is in the body exactly for the ``shows`` actors. Any refusal: exactly the error shape,
    neither the marker nor any of ``hidden`` (the student's data) in it; 401 is the one unauthenticated
    answer, 404 is ``not_found``."""
    assert response.status_code == expected, response.content.decode()
    payload = response.json()
    body = json.dumps(payload, ensure_ascii=False)
    if 200 <= expected < 300:
        assert (marker in body) is (who in shows), body
        return body
    assert set(payload) == {"code", "message", "fields"}, body
    assert marker not in body
    for text in hidden:
        assert text not in body
    if expected == 401:
        assert payload == UNAUTHENTICATED
    if expected == 404:
        assert payload["code"] == "not_found"
    return body
