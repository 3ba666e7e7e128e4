"""A passkey as the second factor (issue 11 §1), in headless Chromium with a CDP virtual authenticator (CTAP2,
internal transport, resident keys, user verification): a county registrar with no factor registers a passkey on
the factors page (ten recovery codes follow), logs out, logs in with the password and verifies with the passkey
instead of a code. django-otp-webauthn's scripts run under the site's CSP (no inline script, no CSP violation in
the console). Screenshots at 1280 px and 390 px in var/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent

pytestmark = [pytest.mark.e2e, pytest.mark.mfa]


def _log_in(page: Any, base: str, username: str, path: str = "/students/") -> None:
    page.goto(f"{base}/login/?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")


def _narrow(page: Any, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(800)  # the side menu's slide-out transition
    shot(page, f"{name}-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} scrolls sideways at 390px ({width}px)"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_register_a_passkey_then_log_in_with_it(live_server, browser, settings, tree):  # type: ignore[no-untyped-def]
    base = live_server.url.replace("127.0.0.1", "localhost")
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [base]
    user = c.dept_registrar("440105")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    # CSP violations, script errors and failed loads (but the browser's own favicon probe) fail the test
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if "Content Security Policy" in m.text or "Refused" in m.text else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    # password first; no factor yet → enrolment; the factors page offers a passkey
    _log_in(page, base, user.username)
    page.wait_for_url("**/mfa/setup/**")
    page.goto(f"{base}/mfa/?next=/students/")
    page.get_by_role("button", name="添加通行密钥").click()
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"
    shot(page, "passkey-recovery-1280")
    page.get_by_role("link", name="我已保存，继续").click()
    page.wait_for_url(f"{base}/students/")
    assert AuditEvent.objects.filter(
        event_type="auth.mfa_enrolled", actor_id=user.pk, after={"kind": "webauthn"}
    )

    page.goto(f"{base}/mfa/")
    assert page.locator("#mfa-devices tr[data-kind=webauthn]").count() == 1
    shot(page, "passkey-factors-1280")
    _narrow(page, "passkey-factors")

    # log out, log in again: the second step offers the passkey beside the code field
    page.locator("form[action='/logout/'] button").first.click()
    page.wait_for_url("**/login/**")
    _log_in(page, base, user.username)
    page.wait_for_url("**/mfa/verify/**")
    button = page.get_by_role("button", name="使用通行密钥验证")
    button.wait_for()
    shot(page, "passkey-verify-1280")
    _narrow(page, "passkey-verify")
    button.click()
    page.wait_for_url(f"{base}/students/")
    assert page.locator("h1").first.is_visible()
    assert AuditEvent.objects.filter(
        event_type="auth.mfa_verified", actor_id=user.pk, after={"kind": "webauthn"}
    )
    shot(page, "passkey-verified-1280")
    # the verified session may add a national-algorithm token: the seed is shown as hex and base32
    page.goto(f"{base}/mfa/setup/sm3/")
    assert len(page.locator("#sm3-seed-hex").text_content().replace(" ", "")) == 64
    shot(page, "sm3-setup-1280")
    _narrow(page, "sm3-setup")
    assert not problems, problems
    context.close()
