"""Passkeys (WebAuthn) as a second factor, server side (issue 11 §1): only after the password, only verified
sessions add one when the account has a factor, failures audited and rate-limited, errors in Chinese, the
script's messages translated; the browser ceremony itself is tests/e2e/test_passkey_browser.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn.models import WebAuthnCredential

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts import factors
from xueji.accounts.models import User
from xueji.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]


@pytest.fixture
def county(tree: Any) -> User:
    return c.dept_registrar("440105")


def _passkey(user: User, n: int = 1) -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user,
        name="passkey",
        credential_id=f"cred-{user.pk}-{n}".encode(),
        public_key=b"k",
        aaguid="0" * 36,
    )


def _login(user: User) -> Client:
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": f.PASSWORD}).status_code == 302
    return client


def test_anonymous_requests_get_no_ceremony() -> None:
    client = Client()
    for path in ("/mfa/webauthn/auth/begin/", "/mfa/webauthn/register/begin/"):
        answer = client.post(path)
        assert answer.status_code in (401, 403) and answer.json()["code"] == "not_authenticated"
        assert "请先用用户名和密码登录" in answer.json()["detail"]


def test_a_passkey_counts_as_a_factor_and_as_a_verified_session(county: User) -> None:
    cred = _passkey(county)
    assert factors.has_factor(county) and factors.kind_of(cred) == factors.WEBAUTHN
    client = _login(county)
    page = client.get("/mfa/verify/")
    html = page.content.decode()
    assert page.context["passkeys"] and 'id="otp_webauthn_config"' in html and "otp_webauthn_auth.js" in html
    assert page.context["webauthn_config"]["completeAuthenticationUrl"] == "/mfa/webauthn/auth/complete/"
    # what a successful ceremony leaves in the session (django-otp's login) makes the session verified
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = cred.persistent_id
    session.save()
    assert client.get("/students/").status_code == 200


def test_authentication_begins_with_the_accounts_credentials_and_failures_are_audited(county: User) -> None:
    _passkey(county)
    client = _login(county)
    options = client.post("/mfa/webauthn/auth/begin/").json()
    assert options["rpId"] == "localhost" and len(options["allowCredentials"]) == 1
    answer = client.post(
        "/mfa/webauthn/auth/complete/",
        {"id": "Zm9v", "rawId": "Zm9v", "type": "public-key", "response": {}},
        content_type="application/json",
    )
    assert answer.status_code >= 400 and answer.json()["detail"]
    event = AuditEvent.objects.get(event_type="auth.mfa_failed", actor_id=county.pk)
    assert event.success is False
    assert client.get("/students/")["Location"].startswith("/mfa/verify/")  # still not verified
    # a completion without a begun ceremony: the state is gone
    again = client.post("/mfa/webauthn/auth/complete/", {}, content_type="application/json")
    assert again.json()["code"] == "invalid_state" and "验证已过期" in again.json()["detail"]


def test_authentication_attempts_are_rate_limited(county: User, settings: Any) -> None:
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "mfa": (2, 900)}
    _passkey(county)
    client = _login(county)
    assert client.post("/mfa/webauthn/auth/begin/").status_code == 200
    assert client.post("/mfa/webauthn/auth/begin/").status_code == 200
    refused = client.post("/mfa/webauthn/auth/begin/")
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"


def test_registration_needs_a_verified_session_when_the_account_has_a_factor(county: User) -> None:
    _passkey(county)
    client = _login(county)
    refused = client.post("/mfa/webauthn/register/begin/")
    assert refused.status_code == 403 and "请先用已有的第二因子完成验证" in refused.json()["detail"]
    # an account with no factor yet may register its first one (enrolment)
    fresh = c.dept_registrar("440106")
    options = _login(fresh).post("/mfa/webauthn/register/begin/").json()
    assert options["rp"]["id"] == "localhost" and options["user"]["name"] == fresh.username


def test_the_factors_page_offers_registration_with_its_script(county: User) -> None:
    client = _login(county)
    page = client.get("/mfa/")
    html = page.content.decode()
    assert (
        page.status_code == 200 and "otp_webauthn_register.js" in html and "passkey-register-button" in html
    )
    assert "/mfa/webauthn/i18n.js" in html and "js/passkeys.js" in html
    # the page after a registration needs the verified session the registration gives
    assert client.post("/mfa/webauthn/registered/")["Location"].startswith("/mfa/setup/")


def test_after_registration_the_first_factor_gets_recovery_codes_once(county: User) -> None:
    cred = _passkey(county)
    client = _login(county)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = cred.persistent_id
    session.save()
    first = client.post("/mfa/webauthn/registered/", {"next": "/students/"})
    assert (
        first.status_code == 200
        and len(first.context["codes"]) == 10
        and first.context["next"] == "/students/"
    )
    second = client.post("/mfa/webauthn/registered/")
    assert second.status_code == 302 and second["Location"] == "/mfa/"


def test_a_passkey_is_removed_like_any_device(county: User) -> None:
    one, two = _passkey(county, 1), _passkey(county, 2)
    client = _login(county)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = one.persistent_id
    session.save()
    listing = client.get("/mfa/")
    assert [r["kind"] for r in listing.context["rows"]] == ["webauthn", "webauthn"]
    assert client.post(f"/mfa/devices/webauthn/{two.pk}/remove/").status_code == 302
    assert list(WebAuthnCredential.objects.filter(user=county)) == [one]
    assert AuditEvent.objects.get(event_type="auth.mfa_device_removed").before == {"kind": "webauthn"}
    # the last one stays (a county registrar must keep a factor)
    client.post(f"/mfa/devices/webauthn/{one.pk}/remove/")
    assert WebAuthnCredential.objects.filter(pk=one.pk).exists()


def test_the_scripts_messages_are_translated(county: User) -> None:
    client = _login(county)
    answer = client.get("/mfa/webauthn/i18n.js")
    body = answer.content.decode()
    assert answer["Content-Type"].startswith("text/javascript")
    assert '"Verify with Passkey": "使用通行密钥验证"' in body and "window.gettext" in body


def test_a_passkey_verified_session_gets_an_api_token_here(county: User) -> None:
    cred = _passkey(county)
    client = _login(county)
    assert client.post("/mfa/api-token/")["Location"].startswith("/mfa/verify/")  # not before verifying
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = cred.persistent_id
    session.save()
    page = client.post("/mfa/api-token/")
    token = page.context["token"]
    me = Client().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200 and me.json()["username"] == county.username
    event = AuditEvent.objects.get(event_type="auth.token_issued", actor_id=county.pk)
    assert event.after["channel"] == "web"


def test_accounts_outside_the_policy_are_sent_to_verify_by_the_views_themselves(tree: Any) -> None:
    """A school registrar (not named by the policy) passes the middleware unverified; the pages that need a
    verified session still send it to the second-factor step."""
    school = f.school("440105", "primary", name="海珠一小")
    registrar = f.registrar(school)
    cred = _passkey(registrar)
    client = _login(registrar)
    assert client.post("/mfa/webauthn/registered/")["Location"] == "/mfa/verify/"
    assert client.post(f"/mfa/devices/webauthn/{cred.pk}/remove/")["Location"] == "/mfa/verify/"
    assert client.post("/mfa/api-token/").status_code == 200  # the policy does not ask it for a factor
