"""Guardian login (issue 12 §1; security.md tests 13, 14, 28, 29): image captcha + SMS code, codes stored only
as keyed hashes (HMAC-SM3), 5 minutes, 5 tries; limits per phone, per address and per day counted in the
database; the guardian session is separate from staff sessions both ways; CSRF on every POST."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.factories import accounts as fa
from tests.guardians.conftest import CAPTCHA, login, sms_code
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import FieldError
from xueji.guardians import services, sms
from xueji.guardians.crypto import keyed_hash
from xueji.guardians.limits import GuardianRateLimited
from xueji.guardians.models import Captcha, GuardianAccount, GuardianSession, LoginCode

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


def _request_code(phone: str = PHONE, ip: str = "10.1.1.1", now=None) -> str:  # type: ignore[no-untyped-def]
    captcha = services.captcha_new(now=now)
    return services.login_code_request(
        phone=phone, captcha_id=captcha.pk, captcha_answer=CAPTCHA, ip=ip, now=now
    )


def test_login_through_the_pages_sets_the_guardian_cookie_and_creates_the_account(
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    client = Client()
    response = login(client, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == "/m/"
    cookie = response.cookies["xj_m"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    account = GuardianAccount.objects.get()
    assert account.phone == PHONE and account.phone_key == keyed_hash("guardian.phone", PHONE)
    home = client.get("/m/")
    assert home.status_code == 200 and "我的孩子" in home.content.decode()
    assert home["Cache-Control"] == "no-store"
    assert (
        AuditEvent.objects.filter(
            event_type=EventType.GUARDIAN_LOGIN, after__username=f"guardian:{account.pk}"
        ).count()
        == 1
    )


def test_the_code_is_stored_only_as_a_keyed_hash_and_never_logged(django_capture_on_commit_callbacks, caplog):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        _request_code()
    code = sms_code(PHONE)
    row = LoginCode.objects.get()
    assert row.code_hash == keyed_hash("guardian.login", f"{row.phone_key}|{code}")
    assert code not in row.code_hash and PHONE not in row.phone_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM guardians_logincode")
        dump = repr(cursor.fetchall())
        cursor.execute("SELECT summary, before, after FROM audit_auditevent")
        dump += repr(cursor.fetchall())
    assert code not in dump and PHONE not in dump
    assert code not in caplog.text and PHONE not in caplog.text


def test_sms_goes_out_only_after_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _request_code()
    assert sms.outbox == [] and len(callbacks) == 1


def test_a_wrong_or_reused_captcha_is_refused_and_nothing_is_sent():  # type: ignore[no-untyped-def]
    captcha = services.captcha_new()
    with pytest.raises(FieldError) as wrong:
        services.login_code_request(phone=PHONE, captcha_id=captcha.pk, captcha_answer="ZZZZZ", ip="10.0.0.1")
    assert wrong.value.code == "captcha_invalid" and wrong.value.field == "captcha"
    # One guess per picture: the right answer after a wrong one is refused too.
    with pytest.raises(FieldError) as reused:
        services.login_code_request(phone=PHONE, captcha_id=captcha.pk, captcha_answer=CAPTCHA, ip="10.0.0.1")
    assert reused.value.code == "captcha_invalid"
    assert LoginCode.objects.count() == 0 and Captcha.objects.get().used_at is not None


def test_an_expired_captcha_is_refused():  # type: ignore[no-untyped-def]
    old = timezone.now() - timedelta(minutes=6)
    captcha = services.captcha_new(now=old)
    with pytest.raises(FieldError) as exc:
        services.login_code_request(phone=PHONE, captcha_id=captcha.pk, captcha_answer=CAPTCHA, ip="10.0.0.1")
    assert exc.value.code == "captcha_invalid"


def test_an_invalid_phone_number_names_the_field():  # type: ignore[no-untyped-def]
    captcha = services.captcha_new()
    with pytest.raises(FieldError) as exc:
        services.login_code_request(
            phone="12345", captcha_id=captcha.pk, captcha_answer=CAPTCHA, ip="10.0.0.1"
        )
    assert exc.value.code == "invalid_phone" and exc.value.field == "phone"


def test_the_code_expires_after_five_minutes(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _request_code(now=start)
    code = sms_code(PHONE)
    with pytest.raises(FieldError) as exc:
        services.login_verify(
            phone=PHONE, code=code, ip="10.0.0.1", now=start + timedelta(minutes=5, seconds=1)
        )
    assert exc.value.code == "code_invalid"
    # Within the five minutes the same code is good.
    assert services.login_verify(
        phone=PHONE, code=code, ip="10.0.0.1", now=start + timedelta(minutes=4)
    ).account


def test_five_wrong_tries_end_the_code(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        _request_code()
    code = sms_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    codes = []
    for _ in range(5):
        with pytest.raises(FieldError) as exc:
            services.login_verify(phone=PHONE, code=wrong, ip="10.0.0.1")
        codes.append(exc.value.code)
    assert codes == ["code_invalid"] * 4 + ["code_exhausted"]
    with pytest.raises(FieldError):
        services.login_verify(phone=PHONE, code=code, ip="10.0.0.1")  # the right code no longer works
    assert GuardianAccount.objects.count() == 0
    assert AuditEvent.objects.filter(event_type=EventType.GUARDIAN_LOGIN_FAILED, success=False).count() == 6


def test_a_code_is_single_use(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        _request_code()
    code = sms_code(PHONE)
    services.login_verify(phone=PHONE, code=code, ip="10.0.0.1")
    with pytest.raises(FieldError) as exc:
        services.login_verify(phone=PHONE, code=code, ip="10.0.0.1")
    assert exc.value.code == "code_invalid"


def test_a_new_code_ends_the_previous_one(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        _request_code()
    first = sms_code(PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        _request_code()
    second = sms_code(PHONE)
    if first != second:
        with pytest.raises(FieldError):
            services.login_verify(phone=PHONE, code=first, ip="10.0.0.1")
    assert services.login_verify(phone=PHONE, code=second, ip="10.0.0.1").account.phone == PHONE


def test_unknown_and_known_numbers_get_the_same_answer(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """No enumeration (ASVS 6.3.8): any number receives a code; the account is made at its first login."""
    known = GuardianAccount()
    from xueji.guardians import phones

    phones.store(known, "13700000000")
    known.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert _request_code("13700000000") == "13700000000"
        assert _request_code("13600000000") == "13600000000"
    assert {m.to for m in sms.outbox} == {"13700000000", "13600000000"}
    for phone in ("13700000000", "13600000000"):
        with pytest.raises(FieldError) as exc:
            services.login_verify(phone=phone, code="999999", ip="10.0.0.2")
        assert exc.value.message == services.CODE_INVALID.message


@pytest.mark.parametrize(
    ("bucket", "limit", "phones_", "ips"),
    [
        ("sms_phone", 5, ["13912345678"] * 6, [f"10.0.0.{i}" for i in range(6)]),
        ("sms_ip", 20, [f"1391234{i:04d}" for i in range(21)], ["10.9.9.9"] * 21),
    ],
)
def test_sms_limits_per_phone_and_per_address(bucket, limit, phones_, ips, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {}
    for phone, ip in zip(phones_[:limit], ips[:limit], strict=True):
        _request_code(phone, ip)
    with pytest.raises(GuardianRateLimited) as exc:
        _request_code(phones_[limit], ips[limit])
    assert exc.value.bucket == bucket and exc.value.status == 429
    assert LoginCode.objects.count() == limit
    assert AuditEvent.objects.filter(event_type=EventType.RATE_LIMITED, subject_id=bucket).count() == 1


def test_sms_limit_per_day(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"sms_phone": (100, 3600), "sms_day": (3, 86400)}
    for i in range(3):
        _request_code(PHONE, f"10.0.1.{i}")
    with pytest.raises(GuardianRateLimited) as exc:
        _request_code(PHONE, "10.0.1.9")
    assert exc.value.bucket == "sms_day"


def test_the_page_answers_429_and_a_spoofed_forwarded_for_does_not_help(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"sms_ip": (2, 3600)}
    client = Client()
    statuses = []
    for i in range(3):
        client.get("/m/login/", REMOTE_ADDR="10.7.7.7")
        captcha = Captcha.objects.order_by("-created_at").first()
        response = client.post(
            "/m/login/code/",
            {"phone": f"1390000000{i}", "captcha_id": str(captcha.pk), "captcha": CAPTCHA},
            REMOTE_ADDR="10.7.7.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429]
    assert response["Retry-After"] and "操作过于频繁" in response.content.decode()


def test_staff_cookies_do_not_authenticate_the_guardian_end(g):  # type: ignore[no-untyped-def]
    staff = Client()
    assert fa.web_login(staff, g["reg"].username).status_code == 302
    response = staff.get("/m/")
    assert response.status_code == 302 and response["Location"] == "/m/login/"
    assert staff.get("/guardian-requests/").status_code == 200  # the same cookie still works for staff pages


def test_guardian_cookies_do_not_authenticate_staff_pages(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    client = Client()
    login(client, django_capture_on_commit_callbacks)
    assert client.get("/m/").status_code == 200
    for url in ("/", "/students/", "/guardian-requests/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_logout_ends_the_session_server_side(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    client = Client()
    login(client, django_capture_on_commit_callbacks)
    stolen = client.cookies["xj_m"].value
    response = client.post("/m/logout/")
    assert response.status_code == 302 and response.cookies["xj_m"].value == ""
    assert GuardianSession.objects.get().ended_at is not None
    replay = Client()
    replay.cookies["xj_m"] = stolen
    assert replay.get("/m/")["Location"] == "/m/login/"


def test_each_login_gets_a_new_token(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    first, second = Client(), Client()
    login(first, django_capture_on_commit_callbacks)
    login(second, django_capture_on_commit_callbacks)
    assert first.cookies["xj_m"].value != second.cookies["xj_m"].value
    assert GuardianSession.objects.count() == 2


def test_idle_and_absolute_limits_and_a_disabled_account(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_SESSION_IDLE_SECONDS = 1800
    settings.XUEJI_GUARDIAN_SESSION_ABSOLUTE_SECONDS = 3600 * 12
    account = GuardianAccount()
    from xueji.guardians import phones

    phones.store(account, PHONE)
    account.save()
    t0 = timezone.now()
    cookie = services.session_start(account=account, now=t0)
    assert services.session_resume(cookie, now=t0 + timedelta(minutes=29)) is not None
    assert services.session_resume(cookie, now=t0 + timedelta(minutes=29 + 31)) is None  # idle
    assert services.session_resume(cookie, now=t0 + timedelta(minutes=61)) is None  # ended stays ended
    # Absolute: active every 20 minutes, still ends after 12 hours.
    cookie = services.session_start(account=account, now=t0)
    for minutes in range(20, 12 * 60, 20):
        assert services.session_resume(cookie, now=t0 + timedelta(minutes=minutes)) is not None
    assert services.session_resume(cookie, now=t0 + timedelta(hours=12, minutes=1)) is None
    cookie = services.session_start(account=account, now=t0)
    services.account_disable(account=account)
    assert services.session_resume(cookie, now=t0) is None
    assert services.session_resume(cookie + "x", now=t0) is None  # a forged signature


def test_posts_need_the_csrf_token():  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.get("/m/login/")
    captcha = Captcha.objects.get()
    response = client.post(
        "/m/login/code/", {"phone": PHONE, "captcha_id": str(captcha.pk), "captcha": CAPTCHA}
    )
    assert response.status_code == 403 and LoginCode.objects.count() == 0


def test_the_captcha_picture_is_a_png_and_gone_once_used():  # type: ignore[no-untyped-def]
    client = Client()
    client.get("/m/login/")
    captcha = Captcha.objects.get()
    response = client.get(f"/m/captcha/{captcha.pk}.png")
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    services.captcha_consume(captcha.pk, CAPTCHA)
    assert client.get(f"/m/captcha/{captcha.pk}.png").status_code == 404
    refreshed = client.get("/m/captcha/")
    assert refreshed.status_code == 200 and "captcha_id" in refreshed.content.decode()


def test_expired_captchas_codes_sessions_and_counters_are_purged():  # type: ignore[no-untyped-def]
    old = timezone.now() - timedelta(days=2)
    _request_code(now=old)
    account = GuardianAccount()
    from xueji.guardians import phones

    phones.store(account, PHONE)
    account.save()
    services.session_start(account=account, now=old)
    live = services.session_start(account=account)
    fresh = services.captcha_new()
    report = services.expired_purge()
    assert (report.captchas, report.codes, report.sessions) == (1, 1, 1) and report.counters == 3
    assert list(Captcha.objects.all()) == [fresh] and LoginCode.objects.count() == 0
    assert services.session_resume(live) is not None


def test_drawing_captchas_is_limited_per_address(settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"captcha_ip": (2, 3600)}
    client = Client()
    assert client.get("/m/login/", REMOTE_ADDR="10.3.3.3").status_code == 200
    assert client.get("/m/captcha/", REMOTE_ADDR="10.3.3.3").status_code == 200
    assert client.get("/m/captcha/", REMOTE_ADDR="10.3.3.3").status_code == 429
    assert client.get("/m/login/", REMOTE_ADDR="10.3.3.3").status_code == 429
    assert Captcha.objects.count() == 2
    assert client.get("/m/login/", REMOTE_ADDR="10.3.3.4").status_code == 200
