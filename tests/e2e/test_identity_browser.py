"""Browser test of the education digital identity (第24条, issue 12 §3) in headless Chromium at 1280 and 390 px:
the security administrator registers a relying party on its page, a registrar signs in to it through the consent
page, and the relying party exchanges the code (PKCE) for an ID token whose pairwise subject is not the account's
id. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
import urllib.request
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import shot
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.identity.models import RelyingParty

pytestmark = pytest.mark.e2e


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_register_client_consent_and_code_exchange(
    browser: Any, live_server: Any, settings: Any, width: int
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": pem.decode()}
    f.departments()
    sch = f.school(name="广州市海珠区实验小学")
    registrar = f.registrar(sch, display_name="李老师", username="li_teacher")
    f.user(Role.SECURITY_ADMIN, f.dept("440000"), username="sec_admin")
    size = {"width": width, "height": 900}

    admin_ctx = browser.new_context(viewport=size, locale="zh-CN")
    admin = _login(admin_ctx, live_server, "sec_admin")
    admin.goto(f"{live_server.url}/identity/clients/new/")
    admin.fill("input[name=name]", "区教师发展平台")
    admin.fill("textarea[name=redirect_uris]", "https://teachers.example.cn/callback")
    admin.check("input[name=scopes][value=profile]")
    admin.click("button[type=submit]")
    client_id = admin.inner_text("#client-id").strip()
    secret = admin.inner_text("#client-secret").strip()
    shot(admin, f"identity-client-created-{width}")
    assert RelyingParty.objects.get().application.client_id == client_id
    admin_ctx.close()

    ctx = browser.new_context(viewport=size, locale="zh-CN")
    page = _login(ctx, live_server, "li_teacher")
    # The relying party is not reachable from here: answer its callback in the browser.
    ctx.route("https://teachers.example.cn/**", lambda route: route.fulfill(status=200, body="ok"))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "https://teachers.example.cn/callback",
        "scope": "openid profile",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(f"{live_server.url}/o/authorize/?{urllib.parse.urlencode(params)}")
    assert "区教师发展平台" in page.inner_text("h1")
    assert "姓名" in page.inner_text(".consent-scopes")
    shot(page, f"identity-consent-{width}")
    page.click("button[name=allow]")
    page.wait_for_url("https://teachers.example.cn/callback*")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["code"][0]
    ctx.close()

    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://teachers.example.cn/callback",
            "client_id": client_id,
            "client_secret": secret,
            "code_verifier": verifier,
        }
    ).encode()
    with urllib.request.urlopen(f"{live_server.url}/o/token/", data=body) as answer:  # noqa: S310 - the test server
        tokens = json.load(answer)
    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["name"] == "李老师"
    assert claims["sub"] != str(registrar.pk)
