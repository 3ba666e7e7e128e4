"""The session's clock as the page sees it (issue #8 item 13): the status read does not renew the session,
继续使用 (keep-alive) does, and a form posted after the session expired goes to the login page with next=
back to the form (not a CSRF 403, nothing saved).

xueji/accounts/session_clock.py, views.session_status_view / session_keepalive_view, middleware.py.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts.middleware import SESSION_LOGIN_AT, SESSION_SEEN_AT
from xueji.accounts.models import User
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.students.models import Person

pytestmark = pytest.mark.django_db

STATUS = "/session/status/"
KEEPALIVE = "/session/keepalive/"


def _row(client: Client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def _age_session(client: Client, *, idle_for: float, expire_in: timedelta) -> Session:
    """As if the last request was ``idle_for`` seconds ago and the row expires in ``expire_in``."""
    session = client.session
    session[SESSION_SEEN_AT] = time.time() - idle_for
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() + expire_in)
    return _row(client)


def _expire(client: Client) -> None:
    """What an idle period longer than SESSION_COOKIE_AGE does to the session row."""
    Session.objects.filter(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )


def _login_query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/login/"
    return parse_qs(parts.query)


# --------------------------------------------------------------------------------------------------------
# The status read and 继续使用
# --------------------------------------------------------------------------------------------------------


def test_status_tells_the_time_left_and_does_not_renew_the_session(client, registrar_a):
    fa.web_login(client, "reg_a")
    assert client.get("/students/").status_code == 200
    before = _age_session(
        client, idle_for=600, expire_in=timedelta(seconds=settings.SESSION_COOKIE_AGE - 600)
    )
    seen = client.session[SESSION_SEEN_AT]

    response = client.get(STATUS)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["active"] is True
    assert settings.SESSION_COOKIE_AGE - 602 <= body["remaining"] <= settings.SESSION_COOKIE_AGE - 600
    assert body["idle"] == settings.SESSION_COOKIE_AGE
    assert body["final"] is False
    after = _row(client)
    assert after.expire_date == before.expire_date  # not renewed
    assert after.get_decoded()[SESSION_SEEN_AT] == seen  # not counted as activity


def test_keepalive_renews_the_session_and_restarts_the_idle_clock(client, registrar_a):
    fa.web_login(client, "reg_a")
    before = _age_session(
        client, idle_for=600, expire_in=timedelta(seconds=settings.SESSION_COOKIE_AGE - 600)
    )

    response = client.post(KEEPALIVE)

    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["remaining"] >= settings.SESSION_COOKIE_AGE - 2
    after = _row(client)
    assert after.expire_date >= before.expire_date + timedelta(seconds=590)
    assert after.get_decoded()[SESSION_SEEN_AT] > time.time() - 5
    # The next status read sees the renewed clock.
    assert client.get(STATUS).json()["remaining"] >= settings.SESSION_COOKIE_AGE - 2


def test_an_ordinary_page_request_renews_the_clock_too(client, registrar_a):
    fa.web_login(client, "reg_a")
    _age_session(client, idle_for=600, expire_in=timedelta(seconds=settings.SESSION_COOKIE_AGE - 600))
    client.get("/students/")
    assert client.get(STATUS).json()["remaining"] >= settings.SESSION_COOKIE_AGE - 2


def test_keepalive_is_a_csrf_checked_post(registrar_a):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert page.status_code == 200
    client.post("/login/", {"username": "reg_a", "password": f.PASSWORD, "csrfmiddlewaretoken": token})
    assert client.get(KEEPALIVE).status_code == 405
    assert client.post(KEEPALIVE).status_code == 403
    token = client.cookies[settings.CSRF_COOKIE_NAME].value  # rotated at login
    assert client.post(KEEPALIVE, HTTP_X_CSRFTOKEN=token).json()["active"] is True


def test_without_a_session_both_answer_inactive_rather_than_a_login_page(client, tree):
    response = client.get(STATUS)
    assert response.status_code == 200
    assert response.json() == {"active": False}
    response = client.post(KEEPALIVE)
    assert response.status_code == 401
    assert response.json() == {"active": False}


def test_after_the_session_expired_the_status_says_so_and_keepalive_cannot_revive_it(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    assert client.get(STATUS).json() == {"active": False}
    fa.web_login(client, "reg_a")
    _expire(client)
    assert client.post(KEEPALIVE).status_code == 401


def test_when_the_time_is_up_the_status_read_ends_the_session(client, registrar_a):
    """The row may outlive the clock by the time the response took; 重新登录 must find the user signed out."""
    fa.web_login(client, "reg_a")
    _age_session(client, idle_for=settings.SESSION_COOKIE_AGE + 1, expire_in=timedelta(seconds=30))
    assert client.get(STATUS).json()["active"] is False
    assert not Session.objects.filter(expire_date__gt=timezone.now()).exists()
    # The cookie stays, so the next request is told apart from a visitor who never signed in.
    response = client.get("/students/")
    assert _login_query(response["Location"]) == {"reason": ["timeout"], "next": ["/students/"]}
    assert client.get("/login/").status_code == 200  # not sent on as a signed-in user


def test_admin_sessions_show_their_shorter_idle_limit_and_end_there(client, tree, settings):
    settings.ADMIN_SESSION_IDLE_SECONDS = 900
    fa.system_admin(username="sys")
    fa.web_login(client, "sys")
    body = client.get(STATUS).json()
    assert body["idle"] == 900
    assert 898 <= body["remaining"] <= 900
    _age_session(client, idle_for=901, expire_in=timedelta(seconds=settings.SESSION_COOKIE_AGE))
    response = client.get(STATUS)
    assert response.status_code == 200  # JSON, not a redirect to the login page
    assert response.json() == {"active": False}
    assert AuditEvent.objects.filter(event_type=EventType.LOGOUT, summary__contains="长时间未操作").exists()
    assert _login_query(client.get("/accounts/")["Location"]) == {
        "reason": ["timeout"],
        "next": ["/accounts/"],
    }


def test_near_the_absolute_limit_the_end_is_final(client, registrar_a, settings):
    """ASVS 7.3.2: the 12-hour limit is not moved by 继续使用; the page says so instead of offering it."""
    fa.web_login(client, "reg_a")
    session = client.session
    session[SESSION_LOGIN_AT] = time.time() - settings.SESSION_ABSOLUTE_SECONDS + 60
    session.save()
    body = client.post(KEEPALIVE).json()
    assert body["final"] is True
    assert 58 <= body["remaining"] <= 60


def test_the_warning_lead_time_is_a_setting_and_at_most_half_the_idle_limit(client, registrar_a, settings):
    settings.SESSION_WARNING_SECONDS = 90
    fa.web_login(client, "reg_a")
    assert client.get(STATUS).json()["warning"] == 90
    settings.SESSION_COOKIE_AGE = 100
    assert client.get(STATUS).json()["warning"] == 50


def test_a_user_who_owes_a_password_change_can_still_read_the_clock(client, registrar_a):
    User.objects.filter(username="reg_a").update(must_change_password=True)
    fa.web_login(client, "reg_a")
    response = client.get(STATUS)
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert client.post(KEEPALIVE).status_code == 200
    assert client.get("/students/")["Location"] == "/password/"


# --------------------------------------------------------------------------------------------------------
# What the page is told
# --------------------------------------------------------------------------------------------------------


def test_signed_in_pages_carry_the_clock_and_the_draft_form_is_marked(client, registrar_a, settings):
    settings.SESSION_WARNING_SECONDS = 120
    fa.web_login(client, "reg_a")
    html = client.get(reverse("students:register")).content.decode()
    assert 'id="session-clock"' in html
    assert f'data-user="{User.objects.get(username="reg_a").pk}"' in html
    assert f'data-remaining="{settings.SESSION_COOKIE_AGE}"' in html or (
        f'data-remaining="{settings.SESSION_COOKIE_AGE - 1}"' in html
    )
    assert 'data-warning="120"' in html
    assert 'data-status="/session/status/"' in html
    assert 'data-keepalive="/session/keepalive/"' in html
    assert "js/session.js" in html
    assert 'class="register-form" data-draft' in html
    for text in ("登录即将超时", "继续使用", "退出", "登录已超时", "已恢复未提交的草稿", "丢弃草稿"):
        assert text in html


def test_the_login_page_carries_no_clock(client, tree):
    html = client.get("/login/").content.decode()
    assert "session-clock" not in html
    assert "js/session.js" in html  # it still settles the drafts of a submit that ended here


# --------------------------------------------------------------------------------------------------------
# A form posted after the session expired
# --------------------------------------------------------------------------------------------------------


def _csrf_client_on_form(username: str) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    client.post("/login/", {"username": username, "password": f.PASSWORD, "csrfmiddlewaretoken": token})
    page = client.get(reverse("students:register"))
    assert page.status_code == 200
    return client, str(page.context["csrf_token"])


def test_expired_form_post_goes_to_login_with_next_to_the_form_and_saves_nothing(registrar_a):
    client, token = _csrf_client_on_form("reg_a")
    _expire(client)
    form_url = reverse("students:register")
    response = client.post(
        form_url,
        {"csrfmiddlewaretoken": token, "name": "李小花"},
        HTTP_REFERER=f"http://testserver{form_url}",
    )
    assert response.status_code == 302
    assert _login_query(response["Location"]) == {"reason": ["timeout"], "next": [form_url]}
    assert not Person.objects.filter(name="李小花").exists()
    page = client.get(response["Location"]).content.decode()
    assert "登录超时，请重新登录" in page
    assert f'name="next" value="{form_url}"' in page


def test_expired_form_post_with_a_stale_csrf_token_is_not_a_csrf_403(registrar_a):
    """A login in another tab rotated the CSRF token, then the session ended: before, CsrfViewMiddleware
    answered 403 "页面已过期" ahead of the login redirect."""
    client, _token = _csrf_client_on_form("reg_a")
    _expire(client)
    form_url = reverse("students:register")
    response = client.post(
        form_url, {"csrfmiddlewaretoken": "x" * 64}, HTTP_REFERER=f"http://testserver{form_url}"
    )
    assert response.status_code == 302
    assert _login_query(response["Location"]) == {"reason": ["timeout"], "next": [form_url]}


def test_form_post_without_any_session_goes_to_login_with_next(tree):
    """Logged out in another tab (the cookie is gone, so no timeout message), CSRF token stale."""
    client = Client(enforce_csrf_checks=True)
    form_url = reverse("changes:new", args=["transfer"])
    response = client.post(
        f"{form_url}", {"csrfmiddlewaretoken": "x" * 64}, HTTP_REFERER=f"http://testserver{form_url}"
    )
    assert response.status_code == 302
    assert _login_query(response["Location"]) == {"next": [form_url]}


def test_expired_htmx_post_gets_hx_redirect_to_login(registrar_a):
    client, token = _csrf_client_on_form("reg_a")
    _expire(client)
    response = client.post(
        "/changes/notifications/read/",
        {},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/changes/",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    assert _login_query(response["HX-Redirect"]) == {"reason": ["timeout"], "next": ["/changes/"]}


def test_the_login_form_itself_stays_csrf_protected(tree):
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post("/login/", {"username": "x", "password": "y", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403


def test_after_logging_in_again_the_form_page_opens(registrar_a):
    client, token = _csrf_client_on_form("reg_a")
    _expire(client)
    form_url = reverse("students:register")
    login = client.post(form_url, {"csrfmiddlewaretoken": token}, HTTP_REFERER=f"http://testserver{form_url}")
    client.get(login["Location"])
    fresh = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        login["Location"],
        {"username": "reg_a", "password": f.PASSWORD, "next": form_url, "csrfmiddlewaretoken": fresh},
    )
    assert response["Location"] == form_url
    page = client.get(form_url)
    assert page.status_code == 200
    assert json.loads(client.get(STATUS).content)["active"] is True
