"""The education digital identity (第24条, issue 12 §3): an OpenID Connect provider with PKCE, registered relying
parties, a consent screen, pairwise subjects and no ID numbers in any claim. A test relying party completes the
authorization-code flow with the Django test client and checks the ID token's signature against the JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from jwcrypto import jwk, jwt

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.audit.models import AuditEvent
from xueji.identity import services
from xueji.identity.models import RelyingParty

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    f.departments()
    sch = f.school(name="广州市海珠区实验小学")
    registrar = f.registrar(sch, display_name="李老师", phone="13800138000")
    security = f.user(Role.SECURITY_ADMIN, f.dept("440000"))
    return {"school": sch, "registrar": registrar, "security": security}


def _rp(security: Any, name: str, host: str, scopes: list[str]) -> tuple[str, str, str]:
    done = services.register(
        actor=security, name=name, redirect_uris=f"https://{host}/callback", scopes=scopes
    )
    return done.party.application.client_id, done.client_secret, f"https://{host}/callback"


class RelyingPartyClient:
    """What a relying party does: PKCE S256, the authorize redirect, the code exchange, the ID token check."""

    def __init__(self, browser: Client, client_id: str, secret: str, redirect: str) -> None:
        self.browser, self.client_id, self.secret, self.redirect = browser, client_id, secret, redirect
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)

    def authorize_params(self, scope: str, *, pkce: bool = True) -> dict[str, str]:
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect,
            "scope": scope,
            "state": self.state,
            "nonce": self.nonce,
        }
        if pkce:
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        return params

    def login(self, scope: str) -> dict[str, Any]:
        params = self.authorize_params(scope)
        consent = self.browser.get("/o/authorize/", params)
        assert consent.status_code == 200, consent.content[:500]
        body = consent.content.decode()
        assert "请求使用您的身份" in body
        form = {k: v for k, v in consent.context["form"].initial.items() if v is not None}
        form["allow"] = "1"
        answer = self.browser.post("/o/authorize/", form)
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer["Location"]).query)
        assert answer["Location"].startswith(self.redirect)
        assert query["state"] == [self.state]
        token = Client().post(
            "/o/token/",
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": self.redirect,
                "client_id": self.client_id,
                "client_secret": self.secret,
                "code_verifier": self.verifier,
            },
        )
        assert token.status_code == 200, token.content
        tokens = token.json()
        keys = jwk.JWKSet.from_json(Client().get("/o/.well-known/jwks.json").content.decode())
        id_token = jwt.JWT(jwt=tokens["id_token"], key=keys, algs=["RS256"])
        claims = json.loads(id_token.claims)
        assert claims["aud"] == self.client_id
        assert claims["nonce"] == self.nonce
        return {"claims": claims, "access_token": tokens["access_token"]}


def test_two_relying_parties_get_different_stable_subjects(world: dict[str, Any]) -> None:
    """Pairwise subjects (第24条): the same person is a different, stable ``sub`` at each relying party."""
    a = _rp(world["security"], "区教师发展平台", "teachers.example.cn", ["profile"])
    b = _rp(world["security"], "市图书馆系统", "library.example.cn", ["profile"])
    browser = Client()
    browser.force_login(world["registrar"])
    sub_a1 = RelyingPartyClient(browser, *a).login("openid profile")["claims"]["sub"]
    sub_a2 = RelyingPartyClient(browser, *a).login("openid")["claims"]["sub"]
    sub_b = RelyingPartyClient(browser, *b).login("openid profile")["claims"]["sub"]
    assert sub_a1 == sub_a2
    assert sub_a1 != sub_b
    assert str(world["registrar"].pk) not in {sub_a1, sub_b}


def test_claims_follow_scopes_and_never_carry_identity_numbers(world: dict[str, Any]) -> None:
    client_id, secret, redirect = _rp(
        world["security"], "教研系统", "research.example.cn", ["profile", "xueji.role"]
    )
    browser = Client()
    browser.force_login(world["registrar"])
    only_openid = RelyingPartyClient(browser, client_id, secret, redirect).login("openid")
    assert "name" not in only_openid["claims"] and "xueji_roles" not in only_openid["claims"]

    full = RelyingPartyClient(browser, client_id, secret, redirect).login("openid profile xueji.role")
    assert full["claims"]["name"] == "李老师"
    assert full["claims"]["xueji_roles"][0]["unit"] == "广州市海珠区实验小学"
    userinfo = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {full['access_token']}")
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == full["claims"]["sub"]
    text = json.dumps(full["claims"], ensure_ascii=False) + userinfo.content.decode()
    assert not re.search(r"(?<!\d)\d{17}[\dXx](?!\d)", text)  # no identity number
    assert not re.search(r"[GJL]\d{17}[\dXx]", text)  # no 学籍号
    assert "13800138000" not in text  # no phone
    # the audit says a token was given to which system, not what it said
    event = AuditEvent.objects.filter(event_type="identity.authorized").latest("occurred_at")
    assert event.subject_id == client_id and "李老师" not in json.dumps(event.after, ensure_ascii=False)


def test_scope_outside_registration_and_missing_pkce_are_refused(world: dict[str, Any]) -> None:
    client_id, secret, redirect = _rp(world["security"], "考勤系统", "attendance.example.cn", [])
    browser = Client()
    browser.force_login(world["registrar"])
    rp = RelyingPartyClient(browser, client_id, secret, redirect)
    wider = browser.get("/o/authorize/", rp.authorize_params("openid profile"))
    assert wider.status_code == 302 and "error=invalid_scope" in wider["Location"]
    no_pkce = browser.get("/o/authorize/", rp.authorize_params("openid", pkce=False))
    assert "code" not in parse_qs(urlsplit(no_pkce.get("Location", "")).query)
    assert no_pkce.status_code in (200, 302, 400)
    if no_pkce.status_code == 302:
        assert "error=" in no_pkce["Location"]


def test_disabled_relying_party_cannot_authorize(world: dict[str, Any]) -> None:
    client_id, secret, redirect = _rp(world["security"], "旧系统", "old.example.cn", ["profile"])
    party = RelyingParty.objects.get(application__client_id=client_id)
    services.disable(actor=world["security"], party_id=party.pk)
    browser = Client()
    browser.force_login(world["registrar"])
    response = browser.get(
        "/o/authorize/", RelyingPartyClient(browser, client_id, secret, redirect).authorize_params("openid")
    )
    assert response.status_code == 400 or "error" in response.get("Location", "")
    assert "请求使用您的身份" not in response.content.decode()


def test_only_the_security_admin_registers_clients(world: dict[str, Any]) -> None:
    """三权分立: relying parties are registered by the security administrator only; the toolkit's own
    application pages are not mounted."""
    browser = Client()
    browser.force_login(world["registrar"])
    assert browser.get("/identity/clients/").status_code == 403
    assert (
        browser.post(
            "/identity/clients/new/", {"name": "x", "redirect_uris": "https://x.example/cb"}
        ).status_code
        == 403
    )
    assert browser.get("/o/applications/").status_code == 404
    assert not RelyingParty.objects.exists()

    admin = Client()
    admin.force_login(world["security"])
    page = admin.post(
        "/identity/clients/new/",
        {
            "name": "学生资助系统",
            "redirect_uris": "https://aid.example.cn/cb",
            "scopes": ["profile"],
            "confidential": "on",
        },
    )
    assert page.status_code == 200
    party = RelyingParty.objects.get()
    assert party.sector == "aid.example.cn" and party.scopes == ["profile"]
    assert page.context["secret"] and page.context["secret"] not in party.application.client_secret
    bad = admin.post("/identity/clients/new/", {"name": "x", "redirect_uris": "http://plain.example/cb"})
    assert "回调地址" in bad.content.decode() and RelyingParty.objects.count() == 1


def test_plain_pkce_consent_skipping_and_tokens_in_the_query_are_refused(world: dict[str, Any]) -> None:
    """RFC 9700: PKCE only with S256; a relying party cannot skip the consent page; tokens only in the header."""
    client_id, secret, redirect = _rp(world["security"], "作业系统", "homework.example.cn", ["profile"])
    browser = Client()
    browser.force_login(world["registrar"])
    rp = RelyingPartyClient(browser, client_id, secret, redirect)
    plain = rp.authorize_params("openid")
    plain["code_challenge"] = rp.verifier
    plain.pop("code_challenge_method")
    answer = browser.get("/o/authorize/", plain)
    if answer.status_code == 200 and "form" in (answer.context or {}):
        # the consent page may show; then the code must not be exchangeable with a plain verifier
        form = {k: v for k, v in answer.context["form"].initial.items() if v is not None}
        answer = browser.post("/o/authorize/", {**form, "allow": "1"})
    code = parse_qs(urlsplit(answer.get("Location", "")).query).get("code", [""])[0]
    if code:
        exchange = Client().post(
            "/o/token/",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": client_id,
                "client_secret": secret,
                "code_verifier": rp.verifier,
            },
        )
        assert exchange.status_code == 400
    first = rp.login("openid profile")
    skip = RelyingPartyClient(browser, client_id, secret, redirect).authorize_params("openid")
    skip["approval_prompt"] = "auto"
    again = browser.get("/o/authorize/", skip)
    assert again.status_code == 200 and "请求使用您的身份" in again.content.decode()
    assert Client().get("/o/userinfo/", {"access_token": first["access_token"]}).status_code in (
        400,
        401,
        403,
    )


def test_a_deactivated_account_loses_its_tokens_at_once(world: dict[str, Any]) -> None:
    client_id, secret, redirect = _rp(world["security"], "图书系统", "books.example.cn", ["profile"])
    browser = Client()
    browser.force_login(world["registrar"])
    rp = RelyingPartyClient(browser, client_id, secret, redirect)
    tokens = rp.login("openid profile")
    assert (
        Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 200
    )
    type(world["registrar"]).objects.filter(pk=world["registrar"].pk).update(is_active=False)
    assert Client().get(
        "/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    ).status_code in (401, 403)
