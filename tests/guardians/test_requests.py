"""Guardian requests (issue 12 §1): corrections (第13条: the school reviews; ordinary fields are then written as the
registrar's edit, key fields become the key-data change), transfer applications to the receiving school (第15条)
and 休学/复学 (第16条), which the school turns into the normal change request or declines with a reason. The
guardian follows the timeline and deadlines and is notified in the page and by SMS; a registrar sees only its
own school's requests (out of scope = 404, nothing written)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from tests.guardians.conftest import login
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.enums import ChangeKind
from xueji.changes.models import ChangeRequest
from xueji.core.errors import ApplicationError, Conflict, FieldError, NotFound
from xueji.guardians import phones, services, sms
from xueji.guardians.enums import RequestState
from xueji.guardians.models import GuardianAccount, GuardianNotice, GuardianRequest
from xueji.students.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound(g):  # type: ignore[no-untyped-def]
    account = GuardianAccount()
    phones.store(account, "13912345678")
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
    return {**g, "account": account, "link": link}


def submit(b, kind, **data):  # type: ignore[no-untyped-def]
    return services.request_submit(account=b["account"], link=b["link"], kind=kind, data=data)


def test_an_ordinary_correction_is_written_only_after_the_school_approves(
    bound, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    """第13条: 学校审核确认后完成信息变动."""
    req = submit(bound, "correction", field="current_address", value="广州市海珠区滨江东路8号", note="已搬家")
    person = Person.objects.get(pk=bound["pupil"].person_id)
    assert person.current_address != "广州市海珠区滨江东路8号"  # nothing written before the review
    # Issue 11 §3: the corrected value of a sensitive field is sealed in the stored payload.
    raw = GuardianRequest.objects.filter(pk=req.pk).values_list("payload", flat=True).get()
    assert "滨江东路" not in str(raw) and raw["value"].startswith("E1:") and raw["field"] == "current_address"
    assert GuardianRequest.objects.get(pk=req.pk).payload["value"] == "广州市海珠区滨江东路8号"
    assert (
        req.state == RequestState.SUBMITTED
        and req.school_id == bound["school"].pk
        and req.due_on > timezone.localdate()
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = services.request_accept(actor=bound["reg"], request_id=req.pk)
    person.refresh_from_db()
    assert person.current_address == "广州市海珠区滨江东路8号"
    assert done.state == RequestState.DONE and done.decided_by == bound["reg"]
    updated = AuditEvent.objects.get(event_type=EventType.STUDENT_UPDATED, subject_id=str(person.pk))
    assert updated.actor_id == bound["reg"].pk and "current_address" in updated.after
    assert [e.kind for e in done.events.all()] == ["submitted", "applied"]
    assert GuardianNotice.objects.filter(account=bound["account"], request=done).count() == 1
    assert [m.to for m in sms.outbox] == ["13912345678"] and "已审核通过" in sms.outbox[0].body


def test_a_correction_value_is_checked_and_names_the_field(bound):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as bad:
        submit(bound, "correction", field="postal_code", value="12")
    assert bad.value.field == "value"
    with pytest.raises(FieldError) as unknown:
        submit(bound, "correction", field="status", value="02")  # not a field a guardian may correct
    assert unknown.value.field == "field"
    with pytest.raises(FieldError) as same:
        submit(bound, "correction", field="current_address", value=bound["pupil"].person.current_address)
    assert same.value.code == "no_change"
    assert GuardianRequest.objects.count() == 0


def test_a_key_field_correction_becomes_the_key_data_change(bound):  # type: ignore[no-untyped-def]
    """第13条: key information changes through the key-data change and its approval chain."""
    req = submit(bound, "correction", field="name", value="林晓雨", note="户口本已更名")
    assert req.payload["key"] is True
    with pytest.raises(FieldError) as exc:
        services.request_accept(actor=bound["reg"], request_id=req.pk, facts={"evidence_ref": ""})
    assert exc.value.field == "evidence_ref"
    assert (
        GuardianRequest.objects.get().state == RequestState.SUBMITTED and ChangeRequest.objects.count() == 0
    )
    done = services.request_accept(
        actor=bound["reg"], request_id=req.pk, facts={"evidence_ref": "户口簿变更页"}
    )
    change = ChangeRequest.objects.get()
    assert done.state == RequestState.ACCEPTED and done.change_request == change
    assert change.kind == ChangeKind.KEY_DATA_CHANGE and change.facts["name"] == "林晓雨"
    assert Person.objects.get(pk=bound["pupil"].person_id).name == "林小雨"  # not before the approval


def test_suspension_becomes_the_suspension_change_with_the_guardian_as_applicant(bound):  # type: ignore[no-untyped-def]
    """第16条: 休学由父母或其他法定监护人提出申请，学校确认后报上级学籍管理部门核准."""
    start = timezone.localdate() + timedelta(days=10)
    with pytest.raises(FieldError) as long:
        submit(
            bound,
            "suspension",
            reason="illness",
            start_date=start.isoformat(),
            end_date=(start + timedelta(days=400)).isoformat(),
        )
    assert long.value.code == "suspension_too_long"
    req = submit(
        bound,
        "suspension",
        reason="illness",
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=180)).isoformat(),
    )
    with pytest.raises(Conflict):
        submit(
            bound,
            "suspension",
            reason="illness",
            start_date=start.isoformat(),
            end_date=(start + timedelta(days=90)).isoformat(),
        )
    services.request_accept(actor=bound["reg"], request_id=req.pk)
    change = ChangeRequest.objects.get()
    assert change.kind == ChangeKind.SUSPENSION and change.facts["applicant_name"] == "林妈妈"
    assert change.steps.count() >= 2  # the school's confirmation, then the department's approval


def test_resumption_needs_a_suspended_child(bound):  # type: ignore[no-untyped-def]
    with pytest.raises(ApplicationError) as exc:
        submit(bound, "resumption", resume_date="2027-03-01")
    assert exc.value.code == "status_not_allowed"


def test_a_transfer_goes_to_the_receiving_school_only(bound):  # type: ignore[no-untyped-def]
    """第15条: 转学时，转入学校应…启动学籍转接手续."""
    with pytest.raises(FieldError) as missing:
        submit(bound, "transfer", school_code="0000000000", reason="随父母工作调动")
    assert missing.value.field == "school_code"
    with pytest.raises(FieldError) as same:
        submit(bound, "transfer", school_code=bound["school"].school_code, reason="x")
    assert same.value.code == "same_school"
    req = submit(bound, "transfer", school_code=bound["other"].school_code, reason="随父母工作调动")
    assert req.school == bound["other"]
    # The pupil's own school does not decide it; the receiving school does.
    with pytest.raises(NotFound):
        services.request_accept(actor=bound["reg"], request_id=req.pk, facts={"class_name": "3班"})
    with pytest.raises(FieldError) as no_class:
        services.request_accept(actor=bound["reg_other"], request_id=req.pk, facts={"class_name": ""})
    assert no_class.value.field == "class_name"
    done = services.request_accept(actor=bound["reg_other"], request_id=req.pk, facts={"class_name": "3班"})
    change = done.change_request
    assert change.kind == ChangeKind.TRANSFER and change.target_school == bound["other"]
    assert change.initiator_org == bound["other"].org and change.facts["class_name"] == "3班"


def test_decline_needs_a_reason_and_notifies_the_guardian(bound, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    req = submit(bound, "correction", field="email", value="lin@example.com")
    with pytest.raises(FieldError) as exc:
        services.request_decline(actor=bound["reg"], request_id=req.pk, reason="  ")
    assert exc.value.field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        services.request_decline(actor=bound["reg"], request_id=req.pk, reason="请提供新的邮箱证明")
    req.refresh_from_db()
    assert req.state == RequestState.DECLINED and req.decline_reason == "请提供新的邮箱证明"
    assert sms.outbox and "未予受理" in sms.outbox[-1].body and "lin@example.com" not in sms.outbox[-1].body
    with pytest.raises(Conflict):
        services.request_accept(actor=bound["reg"], request_id=req.pk)


def test_out_of_scope_registrars_get_404_and_nothing_is_written(bound):  # type: ignore[no-untyped-def]
    req = submit(bound, "correction", field="email", value="lin@example.com")
    for actor in (bound["reg_other"], f.user(None, None)):
        with pytest.raises(NotFound):
            services.request_accept(actor=actor, request_id=req.pk)
        with pytest.raises(NotFound):
            services.request_decline(actor=actor, request_id=req.pk, reason="x")
    staff = Client()
    fa.web_login(staff, bound["reg_other"].username)
    assert staff.get(f"/guardian-requests/{req.pk}/").status_code == 404
    assert staff.post(f"/guardian-requests/{req.pk}/accept/", {}).status_code == 404
    assert staff.post(f"/guardian-requests/{req.pk}/decline/", {"reason": "x"}).status_code == 404
    assert "lin@example.com" not in staff.get("/guardian-requests/").content.decode()
    req.refresh_from_db()
    assert req.state == RequestState.SUBMITTED and req.decided_by is None


def test_withdraw_only_while_open_and_only_by_its_guardian(bound):  # type: ignore[no-untyped-def]
    req = submit(bound, "correction", field="email", value="lin@example.com")
    stranger = GuardianAccount()
    phones.store(stranger, "13900000000")
    stranger.save()
    with pytest.raises(NotFound):
        services.request_withdraw(account=stranger, request_id=req.pk)
    services.request_withdraw(account=bound["account"], request_id=req.pk)
    with pytest.raises(ApplicationError) as exc:
        services.request_withdraw(account=bound["account"], request_id=req.pk)
    assert exc.value.code == "request_closed"


def test_pages_from_the_guardians_form_to_the_schools_approval(bound, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    guardian = Client()
    login(guardian, django_capture_on_commit_callbacks)
    link = bound["link"]
    form = guardian.get(f"/m/children/{link.pk}/apply/correction/")
    assert form.status_code == 200 and "现住址" in form.content.decode()
    response = guardian.post(
        f"/m/children/{link.pk}/apply/correction/",
        {"field": "home_address", "value": "广州市天河区体育西路1号"},
    )
    req = GuardianRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/m/requests/{req.pk}/"
    page = guardian.get(response["Location"]).content.decode()
    assert "待学校处理" in page and req.due_on.isoformat() in page
    staff = Client()
    fa.web_login(staff, bound["reg"].username)
    assert "林小雨" in staff.get("/guardian-requests/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        approved = staff.post(f"/guardian-requests/{req.pk}/accept/", {"note": ""})
    assert approved.status_code == 302
    assert Person.objects.get(pk=bound["pupil"].person_id).home_address == "广州市天河区体育西路1号"
    page = guardian.get(f"/m/requests/{req.pk}/").content.decode()
    assert "已办结" in page and "学校审核通过" in page
    home = guardian.get("/m/").content.decode()
    assert "已审核通过" in home
    unknown = guardian.get(f"/m/children/{link.pk}/apply/nonsense/")
    assert unknown.status_code == 404
