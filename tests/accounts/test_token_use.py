"""An API request does what it must and no more (issue 7): a token client gets no session, and a token's
use is written at most once a minute, so a read-only call writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from tests.factories import accounts as fa
from xueji.accounts.auth import issue_token, touch_token
from xueji.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    ]


def test_token_endpoint_opens_no_session_but_counts_as_a_login(registrar_a):
    User.objects.filter(pk=registrar_a.pk).update(last_login=None)
    c = fa.client()
    assert fa.token(c, "reg_a", "wrong-password").status_code == 401
    assert AccessAttempt.objects.filter(username="reg_a").count() == 1

    response = fa.token(c, "reg_a")

    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == 0
    assert User.objects.get(pk=registrar_a.pk).last_login is not None  # dormancy clock (第24条)
    assert AccessAttempt.objects.filter(username="reg_a").count() == 0  # the lockout's failures are cleared


def test_a_read_with_a_recently_used_token_writes_nothing(registrar_a):
    raw, row = issue_token(registrar_a)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    first = fa.client().get("/api/v1/auth/me", **headers)
    assert first.status_code == 200
    used = ApiToken.objects.get(pk=row.pk).last_used_at
    assert used is not None

    with CaptureQueriesContext(connection) as queries:
        again = fa.client().get("/api/v1/auth/me", **headers)

    assert again.status_code == 200
    assert "sessionid" not in again.cookies
    assert _writes(queries) == []
    assert ApiToken.objects.get(pk=row.pk).last_used_at == used


@override_settings(API_TOKEN_TOUCH_SECONDS=60)
def test_token_use_is_written_again_once_the_interval_has_passed(registrar_a):
    _raw, row = issue_token(registrar_a)
    now = timezone.now()
    assert touch_token(row, now) is True
    assert touch_token(row, now + timedelta(seconds=59)) is False
    assert ApiToken.objects.get(pk=row.pk).last_used_at == now

    later = now + timedelta(seconds=60)
    assert touch_token(row, later) is True
    assert ApiToken.objects.get(pk=row.pk).last_used_at == later


def test_two_processes_touching_one_token_write_it_once(registrar_a):
    """Each holds its own stale copy of the row: the conditional UPDATE lets only the first write."""
    _raw, row = issue_token(registrar_a)
    copy_a = ApiToken.objects.get(pk=row.pk)
    copy_b = ApiToken.objects.get(pk=row.pk)
    now = timezone.now()
    assert touch_token(copy_a, now) is True
    assert touch_token(copy_b, now + timedelta(seconds=1)) is False
    assert ApiToken.objects.get(pk=row.pk).last_used_at == now
