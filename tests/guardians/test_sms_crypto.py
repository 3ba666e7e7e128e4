"""The SMS backends (shaped like Django's e-mail backends) and the keyed hashes (HMAC-SM3)."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from xueji.core.errors import FieldError
from xueji.guardians import crypto, phones, sms


def test_keyed_hash_is_hmac_sm3_with_a_purpose(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_CODE_KEY = "k" * 32
    mac = hmac.HMAC(b"k" * 32, hashes.SM3())
    mac.update(b"guardian.login\x00123456")
    assert crypto.keyed_hash("guardian.login", "123456") == mac.finalize().hex()
    assert crypto.keyed_hash("guardian.binding", "123456") != crypto.keyed_hash("guardian.login", "123456")
    assert crypto.matches(crypto.keyed_hash("p", "v"), "p", "v") and not crypto.matches(
        crypto.keyed_hash("p", "v"), "p", "w"
    )
    before = crypto.keyed_hash("guardian.login", "123456")
    settings.XUEJI_GUARDIAN_CODE_KEY = "another key"
    assert crypto.keyed_hash("guardian.login", "123456") != before


def test_binding_codes_normalise_as_typed():  # type: ignore[no-untyped-def]
    code = crypto.binding_code()
    assert crypto.normalise_binding_code(crypto.format_binding_code(code).lower()) == code
    assert crypto.normalise_binding_code("abcd-efgh-jkmo") == "ABCDEFGHJKM0"
    assert len({crypto.binding_code() for _ in range(200)}) == 200


@pytest.mark.parametrize("raw", ["+86 139-1234-5678", "8613912345678", "139 1234 5678"])
def test_phone_numbers_normalise(raw):  # type: ignore[no-untyped-def]
    assert phones.normalise(raw) == "13912345678"


@pytest.mark.parametrize("raw", ["", "12912345678", "1391234567", "phone"])
def test_bad_phone_numbers_name_the_field(raw):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        phones.normalise(raw)
    assert exc.value.field == "phone"


def test_file_backend_writes_one_private_file_per_message(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_SMS_BACKEND = "xueji.guardians.sms.FileBackend"
    settings.XUEJI_SMS_FILE_PATH = tmp_path
    assert sms.send_sms("13912345678", "【学籍系统】验证码 123456") == 1
    [path] = list(tmp_path.glob("*.sms"))
    assert path.read_text(encoding="utf-8").startswith("To: 13912345678\n") and "123456" in path.read_text(
        "utf-8"
    )
    assert path.stat().st_mode & 0o077 == 0


def test_console_backend_writes_the_stream():  # type: ignore[no-untyped-def]
    out = io.StringIO()
    backend = sms.get_backend("xueji.guardians.sms.ConsoleBackend", stream=out)
    assert backend.send_messages([sms.SmsMessage("13912345678", "你好")]) == 1
    assert "13912345678" in out.getvalue() and "你好" in out.getvalue()


def test_locmem_backend_keeps_the_outbox(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_SMS_BACKEND = "xueji.guardians.sms.LocmemBackend"
    sms.send_sms("13912345678", "x")
    assert [(m.to, m.body) for m in sms.outbox] == [("13912345678", "x")]


def test_gateway_backend_signs_its_requests(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_SMS_GATEWAY_URL = "https://sms.example.gov.cn/send"
    settings.XUEJI_SMS_GATEWAY_APP_ID = "xueji"
    settings.XUEJI_SMS_GATEWAY_SECRET = "s3cret"
    backend = sms.get_backend("xueji.guardians.sms.GatewayBackend")
    request = backend.request_for(sms.SmsMessage("13912345678", "验证码 123456"))
    body = request.data
    assert json.loads(body)["to"] == "13912345678" and request.full_url == "https://sms.example.gov.cn/send"
    headers = {k.lower(): v for k, v in request.header_items()}
    expected = sms.gateway_signature("s3cret", headers["x-sms-timestamp"], headers["x-sms-nonce"], body)
    assert headers["x-sms-signature"] == expected and headers["x-sms-app"] == "xueji"


def test_gateway_backend_refuses_plain_http_or_missing_secrets(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_SMS_GATEWAY_URL = "http://sms.example.gov.cn/send"
    settings.XUEJI_SMS_GATEWAY_APP_ID = "xueji"
    settings.XUEJI_SMS_GATEWAY_SECRET = "s3cret"
    with pytest.raises(ImproperlyConfigured):
        sms.get_backend("xueji.guardians.sms.GatewayBackend")


def test_gateway_failure_raises_unless_silent(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_SMS_GATEWAY_URL = "https://127.0.0.1:9/unreachable"
    settings.XUEJI_SMS_GATEWAY_APP_ID = "xueji"
    settings.XUEJI_SMS_GATEWAY_SECRET = "s3cret"
    settings.XUEJI_SMS_GATEWAY_TIMEOUT = 0.5
    with pytest.raises(sms.SmsError):
        sms.get_backend("xueji.guardians.sms.GatewayBackend").send_messages(
            [sms.SmsMessage("13912345678", "x")]
        )
    silent = sms.get_backend("xueji.guardians.sms.GatewayBackend", fail_silently=True)
    assert silent.send_messages([sms.SmsMessage("13912345678", "x")]) == 0


@pytest.mark.django_db
def test_seed_guardian_without_demo_data_says_so():  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("seed_guardian", stdout=out)
    assert "没有演示数据" in out.getvalue()
