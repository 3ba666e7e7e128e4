"""Fixes of the guardian-end review: an ended binding ends its open requests (no decision, no message to the
former guardian's phone); refused requests count against the limit; withdrawal has its own audit type; the
school can still end bindings of a pupil who left; a binding code dies after repeated wrong names; one open
request of a kind per child also under races; login ends the browser's old session and rotates the CSRF
token; the QR link survives the login (a checked, same-origin ``next``)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from tests.guardians.conftest import CAPTCHA, login, sms_code
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import Conflict, FieldError, NotFound
from xueji.guardians import conf, phones, services, sms
from xueji.guardians.enums import EventKind, RequestState
from xueji.guardians.limits import GuardianRateLimited
from xueji.guardians.mobile_views import safe_next
from xueji.guardians.models import (
    BindingCode,
    Captcha,
    GuardianAccount,
    GuardianLink,
    GuardianNotice,
    GuardianRequest,
    GuardianSession,
    RateCounter,
)
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


@pytest.fixture
def bound(g):  # type: ignore[no-untyped-def]
    account = GuardianAccount()
    phones.store(account, PHONE)
    account.save()
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    link = services.link_bind(
        account=account,
        code=issued.code,
        child_name="林小雨",
        relation="2",
        guardian_name="林妈妈",
        consent=True,
        ip="1.1.1.1",
    )
    return {**g, "account": account, "link": link, "issued": issued}


def correction(b):  # type: ignore[no-untyped-def]
    return services.request_submit(
        account=b["account"],
        link=b["link"],
        kind="correction",
        data={"field": "email", "value": "lin@example.com"},
    )


# --- item 2: an ended binding ends its requests -----------------------------------------------------------------


def test_revoking_a_binding_closes_its_open_requests_and_nobody_can_accept_them(
    bound, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    req = correction(bound)
    with django_capture_on_commit_callbacks(execute=True):
        services.link_revoke(actor=bound["reg"], link_id=bound["link"].pk)
    req.refresh_from_db()
    assert req.state == RequestState.CLOSED and req.decided_by == bound["reg"]
    assert list(req.events.values_list("kind", flat=True)) == [EventKind.SUBMITTED, EventKind.CLOSED]
    unbound = AuditEvent.objects.get(event_type=EventType.GUARDIAN_UNBOUND)
    assert unbound.after is not None and unbound.after["count"] == 1  # requests closed with the binding
    closing = AuditEvent.objects.get(event_type=EventType.GUARDIAN_REQUEST_DECIDED)
    assert (
        closing.after is not None
        and closing.after["request"] == str(req.pk)
        and closing.after["outcome"] == RequestState.CLOSED
    )
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        services.request_accept(actor=bound["reg"], request_id=req.pk)
    with pytest.raises(Conflict):
        services.request_decline(actor=bound["reg"], request_id=req.pk, reason="x")
    assert sms.outbox == []
    assert not GuardianNotice.objects.filter(request=req).exists()
    assert AuditEvent.objects.filter(event_type=EventType.GUARDIAN_REQUEST_DECIDED).count() == 1


def test_a_request_of_an_ended_binding_or_a_disabled_account_is_not_decided_and_nothing_is_sent(
    bound, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    """Also for rows left open by an earlier version (binding ended without closing them)."""
    req = correction(bound)
    GuardianLink.objects.filter(pk=bound["link"].pk).update(revoked_at=timezone.now())
    with pytest.raises(Conflict) as exc:
        services.request_accept(actor=bound["reg"], request_id=req.pk)
    assert exc.value.code == "link_revoked"
    GuardianLink.objects.filter(pk=bound["link"].pk).update(revoked_at=None)
    services.account_disable(account=bound["account"])
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Conflict):
            services.request_decline(actor=bound["reg"], request_id=req.pk, reason="材料不全")
        with pytest.raises(Conflict):
            services.request_accept(actor=bound["reg"], request_id=req.pk)
    req.refresh_from_db()
    assert req.state == RequestState.SUBMITTED and sms.outbox == []


def test_no_notice_or_sms_goes_to_a_disabled_account(bound, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    req = correction(bound)
    account = GuardianAccount.objects.get(pk=bound["account"].pk)
    account.is_active = False
    sms.outbox.clear()
    before = GuardianNotice.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services._notice(account, req, "您提交的申请学校已受理。")
    assert GuardianNotice.objects.count() == before and sms.outbox == []


# --- item 4: refused requests count ------------------------------------------------------------------------------


def test_refused_requests_count_against_the_limit_and_the_refusal_is_audited(bound, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"request": (2, 86400)}
    for _ in range(2):
        with pytest.raises(FieldError):
            services.request_submit(
                account=bound["account"], link=bound["link"], kind="correction", data={"field": "nope"}
            )
    with pytest.raises(GuardianRateLimited):
        correction(bound)
    assert not GuardianRequest.objects.exists()
    assert RateCounter.objects.get(bucket="request").count == 3
    assert AuditEvent.objects.filter(event_type=EventType.RATE_LIMITED, subject_id="request").count() == 1


# --- item 5: withdrawal has its own audit type -------------------------------------------------------------------


def test_withdrawal_is_audited_as_a_withdrawal(bound):  # type: ignore[no-untyped-def]
    req = correction(bound)
    services.request_withdraw(account=bound["account"], request_id=req.pk)
    event = AuditEvent.objects.get(event_type=EventType.GUARDIAN_REQUEST_WITHDRAWN)
    assert event.after is not None and event.after["request"] == str(req.pk)
    assert AuditEvent.objects.filter(event_type=EventType.GUARDIAN_REQUEST_SUBMITTED).count() == 1


# --- item 6: a pupil who left ------------------------------------------------------------------------------------


def test_the_school_ends_bindings_and_codes_of_a_pupil_without_an_active_record(bound):  # type: ignore[no-untyped-def]
    spare = services.binding_code_issue(actor=bound["reg"], enrollment=bound["pupil"], slot=2)
    Enrollment.objects.filter(pk=bound["pupil"].pk).update(is_active=False)
    with pytest.raises(NotFound):
        services.link_revoke(actor=bound["reg_other"], link_id=bound["link"].pk)
    with pytest.raises(NotFound):
        services.binding_code_revoke(actor=bound["reg_other"], binding_id=spare.binding.pk)
    services.link_revoke(actor=bound["reg"], link_id=bound["link"].pk)
    services.binding_code_revoke(actor=bound["reg"], binding_id=spare.binding.pk)
    assert GuardianLink.objects.get(pk=bound["link"].pk).revoked_at is not None
    assert BindingCode.objects.get(pk=spare.binding.pk).revoked_at is not None


# --- lesser: binding code attempts, one open request ------------------------------------------------------------


def test_a_binding_code_is_void_after_repeated_wrong_names(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    accounts = []
    for i in range(conf.BINDING_MAX_ATTEMPTS):
        account = GuardianAccount()
        phones.store(account, f"1390000000{i}")
        account.save()
        accounts.append(account)
        with pytest.raises(FieldError):
            services.link_bind(
                account=account,
                code=issued.code,
                child_name=f"猜名{i}",
                relation="1",
                guardian_name="某人",
                consent=True,
                ip=f"10.0.0.{i}",
            )
    assert BindingCode.objects.get(pk=issued.binding.pk).revoked_at is not None
    with pytest.raises(FieldError) as exc:
        services.link_bind(
            account=accounts[0],
            code=issued.code,
            child_name="林小雨",
            relation="2",
            guardian_name="林妈妈",
            consent=True,
            ip="10.0.0.9",
        )
    assert exc.value.code == "binding_invalid" and not GuardianLink.objects.exists()
    assert AuditEvent.objects.filter(event_type=EventType.GUARDIAN_BINDING_VOIDED).count() == 1


def test_the_database_keeps_one_open_request_of_a_kind_per_child(bound):  # type: ignore[no-untyped-def]
    req = correction(bound)
    fields = {
        f.attname: getattr(req, f.attname) for f in GuardianRequest._meta.concrete_fields if f.attname != "id"
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        GuardianRequest.objects.create(**fields)
    fields["state"] = RequestState.DECLINED
    GuardianRequest.objects.create(**fields)


# --- lesser: login ends the old session, rotates CSRF ------------------------------------------------------------


def test_login_ends_the_browsers_previous_session_and_rotates_the_csrf_token(
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    client = Client()
    login(client, django_capture_on_commit_callbacks)
    first = GuardianSession.objects.get()
    token_before = client.cookies["csrftoken"].value
    # Still signed in, the same browser signs in again (e.g. another parent's phone on a shared device).
    captcha = services.captcha_new()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/m/login/code/",
            {"phone": "13800000001", "captcha_id": str(captcha.pk), "captcha": CAPTCHA},
            REMOTE_ADDR="10.1.1.1",
        )
    response = client.post("/m/login/verify/", {"phone": "13800000001", "code": sms_code("13800000001")})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.ended_at is not None
    assert GuardianSession.objects.filter(ended_at__isnull=True).count() == 1
    assert response.cookies["csrftoken"].value and response.cookies["csrftoken"].value != token_before


# --- item 7: the QR link survives the login ----------------------------------------------------------------------


def test_an_anonymous_guardian_from_the_qr_link_returns_to_the_binding_page_after_login(
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    client = Client()
    first = client.get("/m/bind/")
    assert first.status_code == 302 and first["Location"] == "/m/login/?next=%2Fm%2Fbind%2F"
    page = client.get(first["Location"], REMOTE_ADDR="10.1.1.1")
    assert '<input type="hidden" name="next" value="/m/bind/">' in page.content.decode()
    captcha = Captcha.objects.order_by("-created_at").first()
    assert captcha is not None
    with django_capture_on_commit_callbacks(execute=True):
        verify = client.post(
            "/m/login/code/",
            {"phone": PHONE, "captcha_id": str(captcha.pk), "captcha": CAPTCHA, "next": "/m/bind/"},
            REMOTE_ADDR="10.1.1.1",
        )
    assert '<input type="hidden" name="next" value="/m/bind/">' in verify.content.decode()
    done = client.post("/m/login/verify/", {"phone": PHONE, "code": sms_code(PHONE), "next": "/m/bind/"})
    assert done.status_code == 302 and done["Location"] == "/m/bind/"
    assert client.get("/m/login/?next=/m/bind/")["Location"] == "/m/bind/"


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/m/",
        "//evil.example/m/",
        "/m//evil.example/",
        "/m/\\evil.example",
        "/\\evil.example",
        "/admin/",
        "m/bind/",
        "/m/login/",
        "/m/logout/",
        "/m/bind/\r\nSet-Cookie: x=1",
        "",
        None,
    ],
)
def test_next_is_only_a_same_origin_page_of_the_guardian_end(value) -> None:  # type: ignore[no-untyped-def]
    assert safe_next(value) == ""


def test_a_foreign_next_sends_the_guardian_home(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    client = Client()
    client.get("/m/login/", REMOTE_ADDR="10.1.1.1")
    captcha = Captcha.objects.order_by("-created_at").first()
    assert captcha is not None
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/m/login/code/",
            {"phone": PHONE, "captcha_id": str(captcha.pk), "captcha": CAPTCHA},
            REMOTE_ADDR="10.1.1.1",
        )
    done = client.post(
        "/m/login/verify/", {"phone": PHONE, "code": sms_code(PHONE), "next": "//evil.example/"}
    )
    assert done.status_code == 302 and done["Location"] == "/m/"
    assert safe_next("/m/children/0190a0b0-0000-7000-8000-000000000000/") != ""
