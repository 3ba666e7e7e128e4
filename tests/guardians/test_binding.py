"""Binding a guardian to a child (issue 12 §1; 第5条; PIPL 第31条): the school issues a one-time code per pupil
and guardian slot (≥ 50 bits, stored hashed, expires, single use, revocable, only by the pupil's own school);
the guardian binds with the code and the child's name, consenting; guardians per child are capped; a guardian
never sees another child (security.md test 10)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.factories import accounts as fa
from tests.guardians.conftest import login
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.errors import Conflict, FieldError, NotFound
from xueji.guardians import crypto, phones, services
from xueji.guardians.models import BindingCode, GuardianAccount, GuardianLink

pytestmark = pytest.mark.django_db


def account(phone: str = "13912345678") -> GuardianAccount:
    a = GuardianAccount()
    phones.store(a, phone)
    a.save()
    return a


def bind(acct, code, name="林小雨", **kw):  # type: ignore[no-untyped-def]
    args = {"relation": "2", "guardian_name": "林妈妈", "consent": True, "ip": "10.0.0.1", **kw}
    return services.link_bind(account=acct, code=code, child_name=name, **args)


def test_a_binding_code_has_60_random_bits_and_is_stored_only_hashed(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    assert len(issued.code) == 12 and set(issued.code) <= set(crypto.CODE_ALPHABET)
    assert len(crypto.CODE_ALPHABET) ** len(issued.code) >= 2**50
    row = BindingCode.objects.get()
    assert row.code_hash == crypto.keyed_hash("guardian.binding", issued.code)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM guardians_bindingcode")
        assert issued.code not in repr(cursor.fetchall())
    assert (row.expires_at - row.issued_at).days == 30
    event = AuditEvent.objects.get(event_type=EventType.GUARDIAN_BINDING_ISSUED)
    assert event.actor_id == g["reg"].pk and event.subject_id == str(g["pupil"].person_id)
    assert issued.code not in repr(event.after) + event.summary


def test_only_the_pupils_own_school_issues_codes_and_nothing_is_written_otherwise(g):  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        services.binding_code_issue(actor=g["reg_other"], enrollment=g["pupil"], slot=1)
    assert BindingCode.objects.count() == 0
    staff = Client()
    fa.web_login(staff, g["reg_other"].username)
    assert staff.get(f"/guardian-requests/pupils/{g['pupil'].person_id}/").status_code == 404
    assert (
        staff.post(f"/guardian-requests/pupils/{g['pupil'].person_id}/issue/", {"slot": 1}).status_code == 404
    )
    assert BindingCode.objects.count() == 0


def test_slot_out_of_range_names_the_field(g, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIANS_PER_CHILD = 2
    with pytest.raises(FieldError) as exc:
        services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=3)
    assert exc.value.field == "slot"


def test_reissuing_a_slot_revokes_the_old_code(g):  # type: ignore[no-untyped-def]
    first = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    second = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    with pytest.raises(FieldError) as exc:
        bind(account(), first.code)
    assert exc.value.code == "binding_invalid"
    assert bind(account("13900000001"), second.code).slot == 1


def test_bind_records_consent_and_the_code_is_single_use(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    mother = account()
    link = bind(mother, crypto.format_binding_code(issued.code).lower())  # dashes and case do not matter
    assert link.person_id == g["pupil"].person_id and link.consent_at is not None
    assert link.consent_version == "2026-12" and link.relation == "2"
    assert BindingCode.objects.get().used_at is not None
    with pytest.raises(FieldError) as exc:
        bind(account("13900000002"), issued.code)
    assert exc.value.code == "binding_invalid"
    assert (
        AuditEvent.objects.filter(event_type=EventType.GUARDIAN_BOUND, subject_id=str(link.person_id)).count()
        == 1
    )


def test_consent_is_required(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    with pytest.raises(FieldError) as exc:
        bind(account(), issued.code, consent=False)
    assert exc.value.field == "consent" and exc.value.code == "consent_required"
    assert GuardianLink.objects.count() == 0 and BindingCode.objects.get().used_at is None


def test_wrong_name_wrong_code_expired_and_revoked_codes_give_one_answer(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    acct = account()
    messages = set()
    for code, name, now in [
        (issued.code, "陈大海", None),  # another child's name
        ("ABCDEFGHJKMN", "林小雨", None),  # no such code
        ("short", "林小雨", None),
        (issued.code, "林小雨", timezone.now() + timedelta(days=31)),  # expired
    ]:
        with pytest.raises(FieldError) as exc:
            bind(acct, code, name, now=now)
        assert exc.value.code == "binding_invalid"
        messages.add(exc.value.message)
    services.binding_code_revoke(actor=g["reg"], binding_id=issued.binding.pk)
    with pytest.raises(FieldError) as exc:
        bind(acct, issued.code)
    messages.add(exc.value.message)
    assert len(messages) == 1 and GuardianLink.objects.count() == 0


def test_binding_attempts_are_limited(g, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"bind": (3, 3600)}
    from xueji.guardians.limits import GuardianRateLimited

    acct = account()
    for _ in range(3):
        with pytest.raises(FieldError):
            bind(acct, "ABCDEFGHJKMN")
    with pytest.raises(GuardianRateLimited):
        bind(acct, "ABCDEFGHJKMN")


def test_guardians_per_child_are_capped(g, settings):  # type: ignore[no-untyped-def]
    settings.XUEJI_GUARDIANS_PER_CHILD = 2
    codes = [services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=n) for n in (1, 2)]
    bind(account("13900000001"), codes[0].code)
    bind(account("13900000002"), codes[1].code)
    settings.XUEJI_GUARDIANS_PER_CHILD = 3
    third = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=3)
    settings.XUEJI_GUARDIANS_PER_CHILD = 2
    with pytest.raises(Conflict) as exc:
        bind(account("13900000003"), third.code)
    assert exc.value.code == "too_many_guardians"
    assert GuardianLink.objects.filter(person_id=g["pupil"].person_id).count() == 2


def test_a_bound_slot_cannot_get_a_new_code_until_unbound(g):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    link = bind(account(), issued.code)
    with pytest.raises(Conflict) as exc:
        services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    assert exc.value.code == "slot_taken"
    with pytest.raises(NotFound):
        services.link_revoke(actor=g["reg_other"], link_id=link.pk)
    services.link_revoke(actor=g["reg"], link_id=link.pk)
    assert services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1).code


def test_the_same_guardian_cannot_bind_twice(g):  # type: ignore[no-untyped-def]
    codes = [services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=n) for n in (1, 2)]
    acct = account()
    bind(acct, codes[0].code)
    with pytest.raises(Conflict) as exc:
        bind(acct, codes[1].code)
    assert exc.value.code == "already_bound"


def test_the_pages_bind_show_the_child_masked_and_audit_every_view(g, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    issued = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    client = Client()
    login(client, django_capture_on_commit_callbacks)
    form = client.get("/m/bind/")
    assert form.status_code == 200 and "儿童个人信息处理规则" in form.content.decode()
    refused = client.post(
        "/m/bind/", {"code": issued.code, "child_name": "林小雨", "guardian_name": "林妈妈", "relation": "2"}
    )
    assert refused.status_code == 400 and "同意" in refused.content.decode()
    response = client.post(
        "/m/bind/",
        {
            "code": issued.code,
            "child_name": "林小雨",
            "guardian_name": "林妈妈",
            "relation": "2",
            "consent": "on",
        },
    )
    link = GuardianLink.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/m/children/{link.pk}/"
    page = client.get(response["Location"]).content.decode()
    person = g["pupil"].person
    assert "林小雨" in page and person.id_number not in page and person.student_number not in page
    assert person.student_number[:7] + "********" + person.student_number[-4:] in page
    assert person.phone not in page
    views = AuditEvent.objects.filter(event_type=EventType.GUARDIAN_VIEWED, subject_id=str(person.pk))
    assert views.count() == 1 and views.get().after["username"] == f"guardian:{link.account_id}"


def test_a_guardian_never_sees_another_child(g, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """security.md test 10: another guardian's link, another child's request, a malformed id → 404, no data."""
    mine = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil"], slot=1)
    theirs = services.binding_code_issue(actor=g["reg"], enrollment=g["pupil2"], slot=1)
    other = bind(account("13900000009"), theirs.code, "陈大海")
    other_request = services.request_submit(
        account=other.account,
        link=other,
        kind="correction",
        data={"field": "email", "value": "chen@example.com"},
    )
    client = Client()
    login(client, django_capture_on_commit_callbacks)
    me = GuardianAccount.objects.get(phone_key=phones.blind_index("13912345678"))
    bind(me, mine.code)
    for url in (
        f"/m/children/{other.pk}/",
        f"/m/children/{other.pk}/apply/correction/",
        f"/m/requests/{other_request.pk}/",
        "/m/children/00000000-0000-0000-0000-000000000000/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "陈大海" not in response.content.decode()
    assert client.post(f"/m/requests/{other_request.pk}/withdraw/").status_code == 404
    other_request.refresh_from_db()
    assert other_request.state == "submitted"
    assert not AuditEvent.objects.filter(
        event_type=EventType.GUARDIAN_VIEWED, subject_id=str(g["pupil2"].person_id)
    ).exists()


def test_the_slip_shows_the_code_once_with_a_qr_code_carrying_it_in_the_fragment(g):  # type: ignore[no-untyped-def]
    staff = Client()
    fa.web_login(staff, g["reg"].username)
    number = g["pupil"].person.student_number
    # The 学籍号 travels in the body, never in a URL (history, access logs): GET is refused.
    assert staff.get("/guardian-requests/pupils/", {"student_number": number}).status_code == 405
    found = staff.post("/guardian-requests/pupils/", {"student_number": number})
    assert (
        found.status_code == 302 and found["Location"] == f"/guardian-requests/pupils/{g['pupil'].person_id}/"
    )
    assert staff.get(found["Location"]).status_code == 200
    slip = staff.post(f"/guardian-requests/pupils/{g['pupil'].person_id}/issue/", {"slot": 1})
    html = slip.content.decode()
    code = re.search(r'data-testid="binding-code">([0-9A-Z-]{14})<', html).group(1)
    assert BindingCode.objects.get().code_hash == crypto.keyed_hash("guardian.binding", code.replace("-", ""))
    assert "<svg" in html and "林*雨" in html and "style=" not in html.split('data-testid="slip"')[1]
    # The binding page afterwards never shows the code again.
    assert code not in staff.get(found["Location"]).content.decode()
    # Another school's pupil number is not found.
    other = Client()
    fa.web_login(other, g["reg_other"].username)
    assert (
        other.post(
            "/guardian-requests/pupils/", {"student_number": g["pupil"].person.student_number}
        ).status_code
        == 404
    )
