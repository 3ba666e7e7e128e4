"""The national-algorithm second factor (issue 11 §1): a GM/T 0021-2012 SM3 dynamic password token — the
construction checked against an independent SM3 (gmssl-pyx, OpenSSL's), replay, drift window, throttling,
enrolment with recovery codes, verification at login, API tokens, the ``XUEJI_MFA_NATIONAL_ALGORITHMS`` policy,
removal of one's own device, and the security administrator's reset removing every kind of device."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import gmssl_pyx
import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts import factors, sm3otp
from xueji.accounts.enums import Role
from xueji.accounts.models import SM3Device, User
from xueji.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]

KEY = bytes.fromhex("1234567890abcdef1234567890abcdef")


@pytest.fixture(autouse=True)
def _no_throttle(settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    settings.OTP_SM3_THROTTLE_FACTOR = 0


@pytest.fixture
def people(tree: Any) -> dict[str, Any]:
    school = f.school("440105", "primary", name="海珠一小")
    return {
        "school": school,
        "county": c.dept_registrar("440105"),
        "registrar": f.registrar(school),
        "security": f.user(Role.SECURITY_ADMIN, f.dept("440000")),
    }


def _independent(key: bytes, t: int) -> str:
    """GM/T 0021 with SM3 written out again from the brief, over gmssl-pyx's SM3 (not the code under test)."""
    ident = struct.pack(">Q", t) + bytes(8)  # T, padded to 128 bits
    s = bytes(gmssl_pyx.sm3_hash(key + ident))
    od = sum(int.from_bytes(s[i : i + 4], "big") for i in range(0, 32, 4)) % 2**32
    return f"{od % 10**6:06d}"


def _code(device: SM3Device, offset: int = 0) -> str:
    t = sm3otp.time_factor(sm3otp.now(), device.step, device.t0) + offset
    return sm3otp.generate(device.bin_key, t, device.digits)


def _login(user: User) -> Client:
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": f.PASSWORD}).status_code == 302
    return client


def _enrol_sm3(client: Client, user: User) -> list[str]:
    page = client.get("/mfa/setup/sm3/")
    assert page.status_code == 200
    device = SM3Device.objects.get(user=user, confirmed=False)
    assert page.context["seed_hex"].replace(" ", "") == device.key.upper()
    answer = client.post("/mfa/setup/sm3/", {"token": _code(device)})
    assert answer.status_code == 200, answer
    return list(answer.context["codes"])


# --- the algorithm -------------------------------------------------------------------------------------------


def test_sm3_is_the_national_hash() -> None:
    """GB/T 32905-2016 example 1: SM3("abc")."""
    assert sm3otp.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3otp.sm3(b"abc") == hashlib.new("sm3", b"abc").digest() == bytes(gmssl_pyx.sm3_hash(b"abc"))


@pytest.mark.parametrize("t", [0, 1, 29_462_400, 2**40 + 7])
def test_known_answers_agree_with_an_independent_implementation(t: int) -> None:
    assert sm3otp.generate(KEY, t) == _independent(KEY, t)


def test_fixed_vectors() -> None:
    """Pinned values (computed with the independent implementation above): a change of the construction fails."""
    assert [sm3otp.generate(KEY, t) for t in (0, 1, 29_462_400, 2**40 + 7)] == [
        "607999",
        "288968",
        "285973",
        "382365",
    ]
    # without the 128-bit padding of ID (XUEJI_SM3_OTP_PAD_ID = False) the codes differ
    assert sm3otp.generate(KEY, 0, pad=False) == "743793"


def test_construction_pieces() -> None:
    assert sm3otp.time_factor(119.9, 60) == 1 and sm3otp.time_factor(120, 60) == 2
    assert sm3otp.identifier(1, pad=True) == b"\x00" * 7 + b"\x01" + b"\x00" * 8
    assert sm3otp.identifier(1, pad=False) == b"\x00" * 7 + b"\x01"
    assert sm3otp.truncate(b"\xff\xff\xff\xff" * 2 + bytes(24)) == 0xFFFFFFFE  # sum wraps mod 2^32
    with pytest.raises(ValueError):
        sm3otp.generate(b"short", 0)


# --- the device ----------------------------------------------------------------------------------------------


def test_device_accepts_one_step_of_drift_once_and_not_more(people: dict[str, Any], settings: Any) -> None:
    device = SM3Device.objects.create(user=people["county"], name="t")
    assert len(device.bin_key) == 32  # 256-bit seed
    assert not device.verify_token(_code(device, 2))  # outside ±1 step
    assert not device.verify_token("12345")  # wrong length
    assert not device.verify_token("abcdef")
    assert device.verify_token(_code(device, 1))  # one step ahead is tolerated
    device.refresh_from_db()
    assert device.drift == 1
    assert not device.verify_token(_code(device, 0))  # an earlier step never again (replay)


def test_device_replay_of_the_same_code_is_refused(people: dict[str, Any]) -> None:
    device = SM3Device.objects.create(user=people["county"], name="t")
    code = _code(device)
    assert device.verify_token(code)
    assert not device.verify_token(code)


def test_wrong_codes_throttle_the_device(people: dict[str, Any], settings: Any) -> None:
    settings.OTP_SM3_THROTTLE_FACTOR = 1
    device = SM3Device.objects.create(user=people["county"], name="t")
    assert not device.verify_token("000000" if _code(device) != "000000" else "111111")
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert not device.verify_token(_code(device))  # the right code, but within the 1 s delay
    device.throttle_reset()
    assert device.verify_token(_code(device))


# --- enrolment and login --------------------------------------------------------------------------------------


def test_enrol_sm3_then_log_in_with_it(people: dict[str, Any]) -> None:
    user = people["county"]
    client = _login(user)
    assert client.get("/students/")["Location"].startswith("/mfa/setup/")
    page = client.get("/mfa/setup/sm3/")
    assert "sm3-seed-base32" in page.content.decode() and page.context["step"] == 60
    bad = client.post("/mfa/setup/sm3/", {"token": "12"})
    assert "动态口令不正确" in bad.content.decode()
    codes = _enrol_sm3(client, user)
    assert len(codes) == 10
    assert client.get("/students/").status_code == 200
    event = AuditEvent.objects.get(event_type="auth.mfa_enrolled", actor_id=user.pk)
    assert event.after == {"kind": "sm3"}
    # next login: the SM3 code of the next step verifies (the enrolment consumed this one)
    again = _login(user)
    device = SM3Device.objects.get(user=user, confirmed=True)
    assert again.get("/students/")["Location"].startswith("/mfa/verify/")
    ok = again.post("/mfa/verify/", {"token": _code(device, 1), "next": "/students/"})
    assert ok.status_code == 302 and ok["Location"] == "/students/"
    assert AuditEvent.objects.filter(event_type="auth.mfa_verified", after={"kind": "sm3"}).exists()


def test_a_second_device_needs_a_verified_session_and_gets_no_new_codes(people: dict[str, Any]) -> None:
    user = people["county"]
    client = _login(user)
    codes = _enrol_sm3(client, user)
    # unverified session of a new login: enrolling another device is not a bypass
    other = _login(user)
    assert other.get("/mfa/setup/sm3/")["Location"] == "/mfa/verify/"
    assert other.get("/mfa/")["Location"].startswith("/mfa/verify/")
    # the verified session adds a TOTP authenticator; its recovery codes stay as they were
    client.get("/mfa/setup/")
    totp_device = TOTPDevice.objects.get(user=user, confirmed=False)
    answer = client.post("/mfa/setup/", {"token": f"{totp(totp_device.bin_key):06d}"})
    assert answer.status_code == 302 and answer["Location"] == "/mfa/"
    assert sorted(t.token for t in StaticDevice.objects.get(user=user).token_set.all()) == sorted(codes)
    # and a second SM3 token from the list page: no new codes, back to the list
    client.get("/mfa/setup/sm3/")
    pending = SM3Device.objects.get(user=user, confirmed=False)
    added = client.post("/mfa/setup/sm3/", {"token": _code(pending)})
    assert added.status_code == 302 and added["Location"] == "/mfa/"
    listing = client.get("/mfa/")
    assert [r["kind"] for r in listing.context["rows"]] == ["totp", "sm3", "sm3"]
    assert listing.context["recovery_left"] == 10


def test_api_token_accepts_an_sm3_code(people: dict[str, Any]) -> None:
    user = people["county"]
    _enrol_sm3(_login(user), user)
    device = SM3Device.objects.get(user=user, confirmed=True)
    answer = Client().post(
        "/api/v1/auth/token",
        {"username": user.username, "password": f.PASSWORD, "otp": _code(device, 1)},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["token"]


# --- removal and reset ---------------------------------------------------------------------------------------


def test_removing_own_devices_keeps_one(people: dict[str, Any]) -> None:
    user = people["county"]
    client = _login(user)
    _enrol_sm3(client, user)
    device = SM3Device.objects.get(user=user, confirmed=True)
    refused = client.post(f"/mfa/devices/sm3/{device.pk}/remove/")
    assert refused.status_code == 302 and SM3Device.objects.filter(pk=device.pk).exists()
    second = SM3Device.objects.create(user=user, name="备用")
    assert client.post(f"/mfa/devices/sm3/{second.pk}/remove/").status_code == 302
    assert not SM3Device.objects.filter(pk=second.pk).exists()
    event = AuditEvent.objects.get(event_type="auth.mfa_device_removed")
    assert event.actor_id == user.pk and event.before == {"kind": "sm3"} and event.subject_id == str(user.pk)
    # someone else's device, a recovery-code device or an unknown kind: 404, nothing removed
    stranger = SM3Device.objects.create(user=people["registrar"], name="x")
    assert client.post(f"/mfa/devices/sm3/{stranger.pk}/remove/").status_code == 404
    static = StaticDevice.objects.get(user=user)
    assert client.post(f"/mfa/devices/recovery/{static.pk}/remove/").status_code == 404
    assert client.post(f"/mfa/devices/nope/{device.pk}/remove/").status_code == 404
    assert (
        SM3Device.objects.filter(pk=stranger.pk).exists()
        and StaticDevice.objects.filter(pk=static.pk).exists()
    )
    # an unverified session cannot remove anything
    assert _login(user).post(f"/mfa/devices/sm3/{device.pk}/remove/")["Location"].startswith("/mfa/verify/")


def test_reset_removes_every_kind_of_device(people: dict[str, Any]) -> None:
    user, security = people["county"], people["security"]
    _enrol_sm3(_login(user), user)
    TOTPDevice.objects.create(user=user, name="a")
    WebAuthnCredential.objects.create(
        user=user, name="passkey", credential_id=b"cred-1", public_key=b"k", aaguid="0" * 36
    )
    SM3Device.objects.create(user=user, name="pending", confirmed=False)
    admin = _login(security)
    _enrol_sm3(admin, security)
    assert admin.post(f"/accounts/{user.pk}/mfa-reset/").status_code == 302
    assert not SM3Device.objects.filter(user=user).exists()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(event_type="account.mfa_reset")
    assert event.actor_id == security.pk and event.after == {
        "counts": {"sm3": 2, "totp": 1, "webauthn": 1, "recovery": 1}
    }


# --- XUEJI_MFA_NATIONAL_ALGORITHMS ---------------------------------------------------------------------------


def test_national_mode_refuses_totp_for_the_accounts_the_policy_names(
    people: dict[str, Any], settings: Any
) -> None:
    settings.XUEJI_MFA_NATIONAL_ALGORITHMS = True
    user = people["county"]
    # an authenticator enrolled before the switch no longer counts: the account enrols an SM3 token
    old = TOTPDevice.objects.create(user=user, name="old")
    assert not factors.has_factor(user) and factors.allowed_kinds(user) == factors.NATIONAL_KINDS
    client = _login(user)
    assert client.get("/students/")["Location"].startswith("/mfa/setup/")
    assert client.get("/mfa/setup/?next=/students/")["Location"] == "/mfa/setup/sm3/?next=%2Fstudents%2F"
    page = client.get("/mfa/")
    assert not page.context["passkeys"] and page.context["national"]
    assert [k["kind"] for k in page.context["other_kinds"]] == ["sm3"]
    assert client.post("/mfa/webauthn/register/begin/").json()["code"] == "national_algorithms_only"
    assert client.post("/mfa/webauthn/auth/begin/").json()["code"] == "national_algorithms_only"
    codes = _enrol_sm3(client, user)
    # a TOTP code is not accepted at login nor for an API token; the SM3 code and recovery codes are
    again = _login(user)
    refused = again.post("/mfa/verify/", {"token": f"{totp(old.bin_key):06d}"})
    assert "验证码错误或已使用过" in refused.content.decode()
    api = Client().post(
        "/api/v1/auth/token",
        {"username": user.username, "password": f.PASSWORD, "otp": f"{totp(old.bin_key, drift=1):06d}"},
        content_type="application/json",
    )
    assert api.status_code == 401
    assert again.post("/mfa/verify/", {"token": codes[0]}).status_code == 302
    # a school registrar (not named by the policy) keeps every kind
    assert factors.allowed_kinds(people["registrar"]) == factors.ALL_KINDS


def test_national_mode_does_not_count_a_session_verified_with_totp(
    people: dict[str, Any], settings: Any
) -> None:
    user = people["county"]
    client = _login(user)
    client.get("/mfa/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post("/mfa/setup/", {"token": f"{totp(device.bin_key):06d}"})
    assert client.get("/students/").status_code == 200
    settings.XUEJI_MFA_NATIONAL_ALGORITHMS = True
    # the TOTP-verified session is no longer a verified second factor for this account
    assert client.get("/students/")["Location"].startswith("/mfa/")
