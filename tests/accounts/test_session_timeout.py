"""An expired session (issue #6 §1): back to login with "登录超时，请重新登录", then back to where the user was.

xueji/accounts/middleware.py (AccountPolicyMiddleware): the idle timeout is the session row's own expiry
(SESSION_COOKIE_AGE, renewed on every request), so an expired session arrives as a cookie naming no session.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f

pytestmark = pytest.mark.django_db


def _expire(client) -> None:  # type: ignore[no-untyped-def]
    """What an idle period longer than SESSION_COOKIE_AGE does to the session row."""
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))


def _query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/login/"
    return parse_qs(parts.query)


def test_expired_session_goes_to_login_with_timeout_and_next(client, registrar_a):
    fa.web_login(client, "reg_a")
    assert client.get("/students/?q=abc").status_code == 200
    _expire(client)
    response = client.get("/students/?q=abc")
    assert response.status_code == 302
    assert _query(response["Location"]) == {"reason": ["timeout"], "next": ["/students/?q=abc"]}
    # The expired cookie is dropped, so the message is shown once.
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""

    page = client.get(response["Location"]).content.decode()
    assert "登录超时，请重新登录" in page
    assert '<input type="hidden" name="next" value="/students/?q=abc">' in page


def test_after_logging_in_again_the_user_is_back_where_they_were(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    login = client.get("/students/?q=abc")["Location"]
    response = client.post(login, {"username": "reg_a", "password": f.PASSWORD, "next": "/students/?q=abc"})
    assert response.status_code == 302
    assert response["Location"] == "/students/?q=abc"


def test_next_must_stay_on_this_site(client, registrar_a):
    response = client.post(
        "/login/", {"username": "reg_a", "password": f.PASSWORD, "next": "https://evil.example/x"}
    )
    assert response["Location"] == "/"


def test_htmx_request_gets_hx_redirect_to_the_page_it_came_from(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    response = client.get(
        "/students/?q=li",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/students/?grade=3",
    )
    assert response.status_code == 200
    assert _query(response["HX-Redirect"]) == {"reason": ["timeout"], "next": ["/students/?grade=3"]}
    assert response.content == b""


def test_htmx_current_url_of_another_host_is_not_used(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    response = client.get(
        "/students/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/students/"
    )
    assert _query(response["HX-Redirect"]) == {"reason": ["timeout"]}


def test_form_post_after_timeout_returns_to_the_form_page(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    response = client.post("/password/", {}, HTTP_REFERER="http://testserver/password/")
    assert _query(response["Location"]) == {"reason": ["timeout"], "next": ["/password/"]}


def test_never_signed_in_visitor_gets_no_timeout_message(client, tree):
    response = client.get("/students/")
    assert response.status_code == 302
    assert "reason=" not in response["Location"]


def test_anonymous_htmx_request_is_redirected_as_a_whole_page(client, tree):
    response = client.get("/students/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/")
    assert response.status_code == 200
    assert _query(response["HX-Redirect"]) == {"next": ["/"]}


def test_login_page_itself_with_an_expired_cookie_is_not_redirected(client, registrar_a):
    fa.web_login(client, "reg_a")
    _expire(client)
    assert client.get("/login/").status_code == 200
