"""The digital identity for guardians (第24条, issue 12 §3; security.md test 23): a guardian signs in through the
家长端 login and authorises a guardians' relying party on the phone consent page (PKCE); pairwise subjects for
the guardian and for each child; enrollment assertions only as the scopes allow and never an ID number, 学籍号,
birth date or phone; the yes/no verify endpoint; a provider token opens no other endpoint of /api/v1."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Grant

from tests.guardians.helpers import CAPTCHA
from tests.identity.helpers import PHONE, guardian_browser, guardian_rp, no_identifiers
from tests.identity.test_oidc import RelyingPartyClient
from xueji.audit.models import AuditEvent
from xueji.guardians import services as guardian_services
from xueji.guardians import sms
from xueji.guardians.models import Captcha, GuardianAccount
from xueji.identity import claims, services
from xueji.identity.models import GuardianPrincipal

pytestmark = pytest.mark.django_db


def test_guardian_signs_in_at_the_guardian_end_and_authorises_with_pkce(
    fam: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """End to end: the relying party's redirect → the 家长端 login (captcha, SMS code) → back to the request
    → the phone consent page → code → token (PKCE) → a signed ID token with the enrollment assertion."""
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment"])
    browser = Client()
    rp = RelyingPartyClient(browser, client_id, secret, redirect)
    first = browser.get("/o/authorize/", rp.authorize_params("openid xueji.enrollment"))
    assert first.status_code == 302
    assert first["Location"] == "/m/login/?next=%2Fo%2Fauthorize%2Fcontinue%2F"

    page = browser.get(first["Location"])
    assert 'value="/o/authorize/continue/"' in page.content.decode()
    captcha = Captcha.objects.order_by("-created_at").first()
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            "/m/login/code/",
            {
                "phone": PHONE,
                "captcha_id": str(captcha.pk),
                "captcha": CAPTCHA,
                "next": "/o/authorize/continue/",
            },
        )
    code = re.search(r"(\d{6})", sms.outbox[-1].body).group(1)  # type: ignore[union-attr]
    signed_in = browser.post(
        "/m/login/verify/", {"phone": PHONE, "code": code, "next": "/o/authorize/continue/"}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/o/authorize/continue/"
    resumed = browser.get(signed_in["Location"])
    assert resumed.status_code == 302 and resumed["Location"].startswith("/o/authorize/?")
    consent = browser.get(resumed["Location"])
    body = consent.content.decode()
    assert consent.status_code == 200 and "请求使用您的身份" in body
    assert "guardians/m.css" in body  # the phone-first layout of the guardian end
    assert "所监护子女的在读情况" in body
    assert "涉及的子女" in body and "林小雨 · 海珠一小 · 5 年级" in body  # what the guardian agrees to share
    # the relying party's own steps (consent, code exchange with the verifier, ID token signature)
    params = parse_qs(urlsplit(resumed["Location"]).query)
    assert params["code_challenge_method"] == ["S256"]
    out = _finish(browser, rp, consent)
    assembled = out["claims"]["xueji_enrollment"]
    assert len(assembled) == 1
    child = assembled[0]
    assert child["school_code"] == fam["school"].school_code and child["school"] == "海珠一小"
    assert child["grade"] == 5 and child["enrolled"] is True and child["stage"] == "primary"
    assert child["status_name"] == "在读" and child["as_of"]
    assert "name" not in child  # no xueji.pupil_name
    no_identifiers(json.dumps(out, ensure_ascii=False), fam)
    principal = GuardianPrincipal.objects.get(account=fam["account"])
    assert not principal.user.is_active and not principal.user.has_usable_password()
    event = AuditEvent.objects.filter(event_type="identity.authorized").latest("occurred_at")
    assert event.actor_role == "guardian" and event.after["username"] == f"guardian:{fam['account'].pk}"
    released = AuditEvent.objects.filter(event_type="identity.claims_released").latest("occurred_at")
    assert released.subject_id == str(fam["pupil"].person_id) and "林小雨" not in json.dumps(released.after)


def _finish(browser: Client, rp: RelyingPartyClient, consent: Any) -> dict[str, Any]:
    """Allow on the consent page already shown, then the relying party's code exchange and checks."""
    import json as _json

    from jwcrypto import jwk, jwt

    form = {k: v for k, v in consent.context["form"].initial.items() if v is not None}
    answer = browser.post("/o/authorize/", {**form, "allow": "1"})
    assert answer.status_code == 302 and answer["Location"].startswith(rp.redirect)
    query = parse_qs(urlsplit(answer["Location"]).query)
    token = Client().post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": rp.redirect,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
            "code_verifier": rp.verifier,
        },
    )
    assert token.status_code == 200, token.content
    tokens = token.json()
    keys = jwk.JWKSet.from_json(Client().get("/o/.well-known/jwks.json").content.decode())
    claims_ = _json.loads(jwt.JWT(jwt=tokens["id_token"], key=keys, algs=["RS256"]).claims)
    assert claims_["aud"] == rp.client_id and claims_["nonce"] == rp.nonce
    return {"claims": claims_, "access_token": tokens["access_token"], "raw": tokens}


def test_pairwise_subjects_for_the_guardian_and_the_child(fam: dict[str, Any]) -> None:
    """security.md test 23: two relying parties get different, stable subjects for the same guardian and for
    the same pupil; neither is the 学籍号 or a database key."""
    a = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment"])
    b = guardian_rp(fam, "library.example.cn", ["xueji.enrollment"])
    browser = guardian_browser(fam["account"])
    a1 = RelyingPartyClient(browser, *a).login("openid xueji.enrollment")["claims"]
    a2 = RelyingPartyClient(browser, *a).login("openid xueji.enrollment")["claims"]
    b1 = RelyingPartyClient(browser, *b).login("openid xueji.enrollment")["claims"]
    assert a1["sub"] == a2["sub"] != b1["sub"]
    pupil_a1, pupil_a2 = a1["xueji_enrollment"][0]["pupil"], a2["xueji_enrollment"][0]["pupil"]
    pupil_b = b1["xueji_enrollment"][0]["pupil"]
    assert pupil_a1 == pupil_a2 != pupil_b
    person = fam["pupil"].person
    for value in (a1["sub"], b1["sub"], pupil_a1, pupil_b):
        assert value not in {person.student_number, str(person.pk), str(fam["account"].pk)}
    assert pupil_a1 != a1["sub"]


def test_claims_only_for_granted_scopes(fam: dict[str, Any]) -> None:
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment", "xueji.pupil_name"])
    browser = guardian_browser(fam["account"])
    bare = RelyingPartyClient(browser, client_id, secret, redirect).login("openid")
    assert set(bare["claims"]) & {"xueji_enrollment", "name", "xueji_roles"} == set()
    userinfo = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {bare['access_token']}").json()
    assert set(userinfo) == {"sub"}

    named = RelyingPartyClient(browser, client_id, secret, redirect).login(
        "openid xueji.enrollment xueji.pupil_name"
    )
    assert named["claims"]["xueji_enrollment"][0]["name"] == "林小雨"
    info = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {named['access_token']}")
    assert info.status_code == 200
    assert info.json()["xueji_enrollment"][0]["pupil"] == named["claims"]["xueji_enrollment"][0]["pupil"]
    text = json.dumps(named, ensure_ascii=False) + info.content.decode()
    no_identifiers(text, fam)
    assert "birth" not in text and "id_number" not in text and "student_number" not in text

    # a staff system never gets pupils' assertions; xueji.role is for staff systems only
    staff = services.register(
        actor=fam["security"],
        name="教研平台",
        redirect_uris="https://research.example.cn/cb",
        scopes=["xueji.role"],
    )
    teacher = Client()
    teacher.force_login(fam["registrar"])
    staff_tokens = RelyingPartyClient(
        teacher, staff.party.application.client_id, staff.client_secret, "https://research.example.cn/cb"
    ).login("openid xueji.role")
    assert "xueji_enrollment" not in staff_tokens["claims"]
    assert staff_tokens["claims"]["xueji_roles"][0]["unit"] == "海珠一小"
    no_identifiers(json.dumps(staff_tokens, ensure_ascii=False), fam)


def test_tokens_at_rest_and_on_the_wire_carry_no_identifiers(fam: dict[str, Any]) -> None:
    """The token response, the ID token, userinfo and the stored access token (there is no introspection
    endpoint: /o/introspect/ is not mounted)."""
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment", "xueji.pupil_name"])
    browser = guardian_browser(fam["account"])
    out = RelyingPartyClient(browser, client_id, secret, redirect).login(
        "openid xueji.enrollment xueji.pupil_name"
    )
    info = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {out['access_token']}")
    stored = AccessToken.objects.filter(application__client_id=client_id).values()
    text = json.dumps(out, ensure_ascii=False, default=str) + info.content.decode()
    text += json.dumps(list(stored), ensure_ascii=False, default=str)
    no_identifiers(text, fam)
    assert Client().post("/o/introspect/", {"token": out["access_token"]}).status_code == 404


def test_the_guardian_may_refuse_on_the_consent_page(fam: dict[str, Any]) -> None:
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment"])
    browser = guardian_browser(fam["account"])
    rp = RelyingPartyClient(browser, client_id, secret, redirect)
    consent = browser.get("/o/authorize/", rp.authorize_params("openid xueji.enrollment"))
    assert consent.status_code == 200
    form = {k: v for k, v in consent.context["form"].initial.items() if v is not None}
    refused = browser.post("/o/authorize/", form)  # "拒绝": no allow
    assert refused.status_code == 302
    query = parse_qs(urlsplit(refused["Location"]).query)
    assert query["error"] == ["access_denied"] and "code" not in query
    assert not Grant.objects.filter(application__client_id=client_id).exists()
    assert not AuditEvent.objects.filter(event_type="identity.claims_released").exists()


def test_a_guardians_system_ignores_the_staff_session_and_vice_versa(fam: dict[str, Any]) -> None:
    """Who signs in follows the relying party's audience: a staff session is not a guardian's identity, and
    the guardian cookie is not a staff identity."""
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment"])
    staff_browser = Client()
    staff_browser.force_login(fam["registrar"])
    rp = RelyingPartyClient(staff_browser, client_id, secret, redirect)
    answer = staff_browser.get("/o/authorize/", rp.authorize_params("openid"))
    assert answer.status_code == 302 and answer["Location"].startswith("/m/login/")

    staff = services.register(
        actor=fam["security"], name="教研平台", redirect_uris="https://research.example.cn/cb", scopes=[]
    )
    guardian = guardian_browser(fam["account"])
    rp2 = RelyingPartyClient(
        guardian, staff.party.application.client_id, "", "https://research.example.cn/cb"
    )
    answer2 = guardian.get("/o/authorize/", rp2.authorize_params("openid"))
    assert answer2.status_code == 302 and answer2["Location"].startswith("/login/")
    # a POST of the consent form without a guardian session goes to the guardian login, creating nothing
    anonymous = Client()
    posted = anonymous.post("/o/authorize/", {"client_id": client_id, "allow": "1", "redirect_uri": redirect})
    assert posted.status_code == 302 and posted["Location"].startswith("/m/login/")
    assert not Grant.objects.exists()


def test_continue_without_a_pending_request_is_refused(fam: dict[str, Any]) -> None:
    response = Client().get("/o/authorize/continue/")
    assert response.status_code == 400 and "授权请求已失效" in response.content.decode()


def test_a_disabled_guardian_account_or_an_unbound_child_stop_at_once(fam: dict[str, Any]) -> None:
    client_id, secret, redirect = guardian_rp(fam, "aid.example.cn", ["xueji.enrollment"])
    browser = guardian_browser(fam["account"])
    tokens = RelyingPartyClient(browser, client_id, secret, redirect).login("openid xueji.enrollment")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    assert len(Client().get("/o/userinfo/", **bearer).json()["xueji_enrollment"]) == 1
    guardian_services.link_revoke(actor=fam["registrar"], link_id=fam["link"].pk)
    assert Client().get("/o/userinfo/", **bearer).json()["xueji_enrollment"] == []
    GuardianAccount.objects.filter(pk=fam["account"].pk).update(is_active=False)
    assert Client().get("/o/userinfo/", **bearer).status_code in (401, 403)


def test_guardian_principal_is_created_once(fam: dict[str, Any]) -> None:
    user = claims.principal_for(fam["account"])
    assert claims.principal_for(fam["account"]).pk == user.pk
    assert claims.guardian_of(user) == fam["account"]
    assert claims.guardian_of(fam["registrar"]) is None and claims.guardian_of(None) is None


def test_a_staff_account_has_no_children_and_no_yes(fam: dict[str, Any]) -> None:
    """The enrollment claim and the verify answer speak only of a guardian's bound children."""
    party = services.register(
        actor=fam["security"],
        name="家长服务",
        redirect_uris="https://aid.example.cn/cb",
        scopes=["xueji.verify"],
        audience="guardian",
    ).party
    application = party.application
    assert claims.enrollment_claims(fam["registrar"], application, with_names=True) == []
    answer = claims.verify_enrollment(
        user=fam["registrar"], application=application, school_code=fam["school"].school_code
    )
    assert answer.enrolled is False
    assert (
        claims.verify_enrollment(
            user=claims.principal_for(fam["account"]), application=application, school_code=" "
        ).enrolled
        is False
    )
