"""Change pages: jurisdiction matrix (anonymous, wrong role, other region, allowed), deciding from the worklist
with htmx, the forms of the kinds (transfer by the receiving school, 第18条 refusal, field errors), the student
timeline, overdue and escalated items, attachments, cohorts, promotion and the dashboard summary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.models import ApprovalStep, ChangeAttachment, ChangeRequest, Notification
from xueji.changes.queries import transfer_lookup
from xueji.changes.services import change_decide, change_submit
from xueji.core.masking import mask_student_number
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
NO_UUID = "00000000-0000-7000-8000-000000000000"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    """Two Haizhu schools (the student's and the receiving one), one in Tianhe, and everyone around them."""
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst = f.school("440105", "primary", name="海珠二小")
    other = f.school("440106", "primary", name="天河一小")
    enrollment = c.enrolled(src, grade=3, name="林小雨")
    return {
        "src": src,
        "dst": dst,
        "other": other,
        "reg_src": f.registrar(src),
        "reg_dst": f.registrar(dst),
        "reg_other": f.registrar(other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
        "city": c.dept_registrar("440100"),
        "beijing": c.dept_registrar("110101"),
        "audit_admin": f.user("audit_admin", f.dept("440000")),
        "enrollment": enrollment,
        "person": Person.objects.get(pk=enrollment.person_id),
    }


def _transfer(s):  # type: ignore[no-untyped-def]
    found = transfer_lookup(student_number=s["person"].student_number, name="林小雨")
    return change_submit(
        actor=s["reg_dst"],
        kind="transfer",
        enrollment=found,
        target_school=s["dst"],
        facts={"class_name": "3班", "reason_text": "随父母工作调动"},
    )


@pytest.fixture
def pending(s):  # type: ignore[no-untyped-def]
    """A same-county transfer waiting for the sending school (step 1 of 3)."""
    return _transfer(s)


def _login(client, user):  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client


def _body(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# ---------------------------------------------------------------------------------------------------------
# Matrix: anonymous, wrong role, other region
# ---------------------------------------------------------------------------------------------------------


def _urls(req_id: object, person_id: object) -> list[tuple[str, str]]:
    return [
        ("get", reverse("changes:worklist")),
        ("get", reverse("changes:list")),
        ("get", reverse("changes:detail", args=[req_id])),
        ("post", reverse("changes:decide", args=[req_id])),
        ("post", reverse("changes:resubmit", args=[req_id])),
        ("post", reverse("changes:cancel", args=[req_id])),
        ("post", reverse("changes:attachment_upload", args=[req_id])),
        ("get", reverse("changes:attachment_file", args=[req_id, NO_UUID])),
        ("post", reverse("changes:notifications_read")),
        ("get", reverse("changes:new", args=["transfer"])),
        ("get", reverse("changes:new", args=["suspension"]) + f"?student={person_id}"),
        ("get", reverse("changes:new", args=["deferral"])),
        ("get", reverse("changes:cohort_graduation")),
        ("get", reverse("changes:cohort_progression")),
        ("get", reverse("changes:promotion")),
    ]


def test_anonymous_is_sent_to_login_everywhere(client, s, pending):
    for method, url in _urls(pending.pk, s["person"].pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url


def test_admin_role_has_no_change_pages(client, s, pending):
    """三权分立: the audit administrator sees no student data — every change page is a 404."""
    _login(client, s["audit_admin"])
    for method, url in _urls(pending.pk, s["person"].pk):
        assert getattr(client, method)(url).status_code == 404, url


@pytest.mark.parametrize("who", ["reg_other", "tianhe", "beijing"])
def test_other_region_gets_404_and_sees_nothing(client, s, pending, who):
    _login(client, s[who])
    for method, url in [
        ("get", reverse("changes:detail", args=[pending.pk])),
        ("post", reverse("changes:decide", args=[pending.pk])),
        ("post", reverse("changes:resubmit", args=[pending.pk])),
        ("post", reverse("changes:cancel", args=[pending.pk])),
        ("post", reverse("changes:attachment_upload", args=[pending.pk])),
        ("get", reverse("changes:new", args=["suspension"]) + f"?student={s['person'].pk}"),
    ]:
        response = getattr(client, method)(url, {"action": "approve"} if "decide" in url else {})
        assert response.status_code == 404, (who, url)
        assert "林小雨" not in _body(response)
    for name in ("changes:worklist", "changes:list"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "林小雨" not in _body(response)
    assert ChangeRequest.objects.get(pk=pending.pk).current_position == 1


def test_page_for_another_role_is_404_or_403(client, s, pending):
    """A county registrar starts no transfer (a school's business: 404) and, inside its county, may not start
    a record's change for the school (403, the record is visible to it)."""
    _login(client, s["haizhu"])
    assert client.get(reverse("changes:new", args=["transfer"])).status_code == 404
    assert client.get(reverse("changes:cohort_graduation")).status_code == 404
    url = reverse("changes:new", args=["suspension"]) + f"?student={s['person'].pk}"
    assert client.get(url).status_code == 403
    _login(client, s["reg_src"])
    assert client.get(reverse("changes:new", args=["deferral"])).status_code == 404
    assert client.get(reverse("changes:promotion")).status_code == 404
    assert client.get(reverse("changes:new", args=["no_such_kind"])).status_code == 404


def test_both_sides_and_the_county_see_the_request(client, s, pending):
    for who in ("reg_src", "reg_dst", "haizhu", "city"):
        _login(client, s[who])
        response = client.get(reverse("changes:detail", args=[pending.pk]))
        assert response.status_code == 200, who
        body = _body(response)
        assert "林小雨" in body and "海珠一小" in body and "海珠二小" in body
        assert s["person"].student_number not in body
        assert mask_student_number(s["person"].student_number) in body
        list_body = _body(client.get(reverse("changes:list")))
        assert "林小雨" in list_body, who


# ---------------------------------------------------------------------------------------------------------
# The worklist: decide in place
# ---------------------------------------------------------------------------------------------------------


def test_worklist_shows_the_step_with_working_days_left(client, s, pending):
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="work-item"' in body
    assert "林小雨" in body and "海珠一小" in body and "海珠二小" in body
    assert "个工作日" in body
    assert 'name="action" value="approve"' in body
    assert 'name="action" value="reject"' in body and 'name="action" value="return"' in body
    # The receiving school has nothing to do now; its request is on its list of requests instead.
    _login(client, s["reg_dst"])
    assert 'data-testid="work-item"' not in _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="my-requests"' in _body(client.get(reverse("changes:list")))


def test_approve_from_the_worklist_with_htmx_advances_and_rerenders_the_row(client, s, pending):
    _login(client, s["reg_src"])
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "approve", "position": "1", "confirm": "1"},
        **HTMX,
    )
    assert response.status_code == 200
    body = _body(response)
    assert "<html" not in body
    assert f'id="wi-{pending.pk}-1"' in body
    assert 'data-testid="done"' in body and "已同意" in body and "海珠区" in body  # handed to the county
    assert 'name="action"' not in body
    req = ChangeRequest.objects.get(pk=pending.pk)
    assert (req.state, req.current_position) == ("pending", 2)
    assert ApprovalStep.objects.get(request=req, position=1).decided_by == s["reg_src"]
    # Replaying the same click is idempotent (the engine recognises the same decision).
    again = client.post(
        reverse("changes:decide", args=[pending.pk]), {"action": "approve", "position": "1"}, **HTMX
    )
    assert again.status_code == 200
    assert ChangeRequest.objects.get(pk=pending.pk).current_position == 2
    # Now it is on the county's list, and the county's approval completes the transfer.
    _login(client, s["haizhu"])
    assert "林小雨" in _body(client.get(reverse("changes:worklist")))
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "approve", "position": "2", "confirm": "1"},
        **HTMX,
    )
    assert "已办结" in _body(response)
    new = Enrollment.objects.get(person_id=s["person"].pk, is_active=True)
    assert (new.school_id, new.class_name) == (s["dst"].pk, "3班")


def test_reject_without_comment_shows_the_error_and_changes_nothing(client, s, pending):
    _login(client, s["reg_src"])
    decided = AuditEvent.objects.filter(event_type=EventType.CHANGE_DECIDED).count()
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "reject", "position": "1", "comment": "  "},
        **HTMX,
    )
    assert response.status_code == 200
    body = _body(response)
    assert 'data-testid="decide-error"' in body and "须填写意见" in body
    assert '<details class="decide-more" open>' in body  # the comment box stays open
    assert 'name="action" value="reject"' in body  # still decidable
    req = ChangeRequest.objects.get(pk=pending.pk)
    assert (req.state, req.current_position) == ("pending", 1)
    assert ApprovalStep.objects.get(request=req, position=1).state == "pending"
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_DECIDED).count() == decided


def test_reject_with_comment_ends_the_request(client, s, pending):
    _login(client, s["reg_src"])
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "reject", "position": "1", "comment": "学生仍在本校就读"},
        **HTMX,
    )
    assert "已不同意" in _body(response)
    req = ChangeRequest.objects.get(pk=pending.pk)
    assert req.state == "rejected"
    assert ApprovalStep.objects.get(request=req, position=1).comment == "学生仍在本校就读"
    assert Enrollment.objects.get(pk=s["enrollment"].pk).is_active is True


def test_decision_already_taken_by_someone_else_is_shown_not_repeated(client, s, pending):
    colleague = f.registrar(s["src"])
    change_decide(actor=colleague, request=pending, action="approve", position=1)
    _login(client, s["reg_src"])
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "reject", "position": "1", "comment": "x"},
        **HTMX,
    )
    body = _body(response)
    assert "已由他人办理" in body and "已同意" in body
    assert ChangeRequest.objects.get(pk=pending.pk).state == "pending"


def test_decide_without_htmx_redirects_with_a_message(client, s, pending):
    _login(client, s["reg_src"])
    response = client.post(
        reverse("changes:decide", args=[pending.pk]),
        {"action": "return", "position": "1", "comment": "请补充户籍证明"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("changes:detail", args=[pending.pk])
    assert ChangeRequest.objects.get(pk=pending.pk).state == "returned"


def test_a_party_not_acting_now_cannot_decide(client, s, pending):
    """The county sees the request but the step is the sending school's: 403, nothing changes."""
    _login(client, s["haizhu"])
    response = client.post(
        reverse("changes:decide", args=[pending.pk]), {"action": "approve", "position": "1"}
    )
    assert response.status_code == 403
    assert ChangeRequest.objects.get(pk=pending.pk).current_position == 1


def test_overdue_step_is_red_and_escalates_to_the_county(client, s, pending):
    step = ApprovalStep.objects.get(request=pending, position=1)
    step.due_on = timezone.localdate() - timedelta(days=14)
    step.save(update_fields=["due_on"])
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("changes:worklist")))
    assert "work-item is-overdue" in body
    assert 'class="overdue" data-testid="days-left">超期' in body
    assert "1 个已超期" in body
    _login(client, s["haizhu"])
    body = _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="escalated-list"' in body and 'data-testid="escalated"' in body
    assert "林小雨" in body
    assert 'name="action"' not in body  # escalated items are view-only
    _login(client, s["tianhe"])
    assert "林小雨" not in _body(client.get(reverse("changes:worklist")))


def test_notifications_are_listed_and_marked_read(client, s, pending):
    _login(client, s["reg_src"])
    [note] = Notification.objects.filter(org_unit=s["src"].org)
    body = _body(client.get(reverse("changes:worklist")))
    assert note.message in body
    response = client.post(reverse("changes:notifications_read"), {"id": str(note.pk)}, **HTMX)
    assert response.status_code == 200
    assert "没有未读通知" in _body(response)
    assert note.read_by.filter(pk=s["reg_src"].pk).exists()


# ---------------------------------------------------------------------------------------------------------
# The request page: facts, chain, attachments, resubmit and cancel
# ---------------------------------------------------------------------------------------------------------


def test_detail_shows_facts_in_chinese_and_the_chain(client, s, pending):
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("changes:detail", args=[pending.pk])))
    assert "转入班级" in body and "3班" in body and "随父母工作调动" in body
    assert 'data-testid="chain"' in body
    chain = body[body.index('data-testid="chain"') :]
    county = f.dept("440105").name
    # The chain in order: receiving school (submitted), sending school (pending), county (waiting).
    assert chain.index("海珠二小") < chain.index("海珠一小") < chain.index(county)
    assert "已同意" in chain and "待办理" in chain and "未开始" in chain
    assert "办理期限" in body
    # Issue 8 item 12: the rule set by its name, not its internal code.
    assert pending.policy_version == "national-2025"
    assert "国家规则（2025 年办法）" in body and "national-2025" not in body
    assert 'name="action" value="approve"' in body  # the acting school decides here too
    _login(client, s["haizhu"])
    assert 'name="action" value="approve"' not in _body(
        client.get(reverse("changes:detail", args=[pending.pk]))
    )


def test_attachment_upload_by_content_and_audited_download(client, s, pending):
    _login(client, s["reg_dst"])
    url = reverse("changes:attachment_upload", args=[pending.pk])
    bad = client.post(url, {"att-title": "证明", "att-file": SimpleUploadedFile("a.pdf", b"not a pdf")})
    assert bad.status_code == 400
    assert "只接受 PDF、JPEG、PNG" in _body(bad)
    assert ChangeAttachment.objects.count() == 0
    ok = client.post(url, {"att-title": "户口簿", "att-file": SimpleUploadedFile("x.bin", PNG)})
    assert ok.status_code == 302
    [att] = ChangeAttachment.objects.all()
    assert (att.content_type, att.step_position, att.title) == ("image/png", 0, "户口簿")
    assert (
        AuditEvent.objects.filter(
            event_type=EventType.ARCHIVE_ATTACHED, subject_id=str(s["person"].pk)
        ).count()
        == 1
    )
    _login(client, s["haizhu"])  # sees the request, so may read its evidence
    response = client.get(reverse("changes:attachment_file", args=[pending.pk, att.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert AuditEvent.objects.filter(event_type=EventType.ARCHIVE_DOWNLOADED).count() == 1
    _login(client, s["reg_other"])
    assert client.get(reverse("changes:attachment_file", args=[pending.pk, att.pk])).status_code == 404


def test_return_resubmit_and_cancel_by_the_initiator(client, s, pending):
    change_decide(actor=s["reg_src"], request=pending, action="return", comment="请补充证明", position=1)
    _login(client, s["reg_dst"])
    body = _body(client.get(reverse("changes:list")))
    assert "重新提交" in body and "请补充" not in body
    response = client.post(reverse("changes:resubmit", args=[pending.pk]), {"next": reverse("changes:list")})
    assert response["Location"] == reverse("changes:list")
    assert ChangeRequest.objects.get(pk=pending.pk).state == "pending"
    # Cancelling needs a reason; without one nothing changes.
    client.post(reverse("changes:cancel", args=[pending.pk]), {"reason": ""})
    assert ChangeRequest.objects.get(pk=pending.pk).state == "pending"
    client.post(reverse("changes:cancel", args=[pending.pk]), {"reason": "家长改变主意"})
    assert ChangeRequest.objects.get(pk=pending.pk).state == "cancelled"
    assert Enrollment.objects.get(pk=s["enrollment"].pk).is_active is True


def test_only_the_initiator_may_cancel(client, s, pending):
    _login(client, s["reg_src"])
    response = client.post(reverse("changes:cancel", args=[pending.pk]), {"reason": "x"})
    assert response.status_code == 403
    assert ChangeRequest.objects.get(pk=pending.pk).state == "pending"


# ---------------------------------------------------------------------------------------------------------
# Starting changes
# ---------------------------------------------------------------------------------------------------------


def test_transfer_started_through_the_form_by_the_receiving_school(client, s):
    _login(client, s["reg_dst"])
    url = reverse("changes:new", args=["transfer"])
    assert "查找学生" in _body(client.get(url))
    number = s["person"].student_number
    # Step 1: the number and the name must both match; the page then shows the school and grade only.
    miss = client.post(url, {"step": "lookup", "student_number": number, "name": "林小"})
    assert miss.status_code == 400 and "未找到" in _body(miss)
    found = client.post(url, {"step": "lookup", "student_number": number, "name": "林小雨"})
    body = _body(found)
    assert found.status_code == 200
    assert 'data-testid="found"' in body and "海珠一小" in body and "三年级" in body
    # Nothing beyond the school and grade: the only number on the page is the one the school typed.
    assert s["person"].id_number not in body.replace(number, "") and "13800138000" not in body
    assert "张大明" not in body and s["person"].current_address not in body
    # Step 2: the class is required (a field error next to the input, nothing written).
    payload = {"step": "submit", "student_number": number, "name": "林小雨", "idempotency_key": "k1"}
    empty = client.post(url, {**payload, "class_name": ""})
    assert empty.status_code == 400
    assert 'id="id_class_name-error"' in _body(empty) and "请填写转入班级" in _body(empty)
    assert ChangeRequest.objects.count() == 0
    done = client.post(url, {**payload, "class_name": "4班", "reason_text": "搬家"})
    req = ChangeRequest.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("changes:detail", args=[req.pk])
    assert (req.kind, req.target_school_id, req.facts["class_name"], req.current_position) == (
        "transfer",
        s["dst"].pk,
        "4班",
        1,
    )
    assert client.post(url, {**payload, "class_name": "4班"}).status_code == 302  # replay: same request
    assert ChangeRequest.objects.count() == 1


def test_compulsory_withdrawal_refusal_is_shown(client, s):
    """第十八条: 义务教育阶段学生不予办理退学 — said on the page, and the engine refuses a forced POST."""
    _login(client, s["reg_src"])
    url = reverse("changes:new", args=["withdrawal"]) + f"?student={s['person'].pk}"
    body = _body(client.get(url))
    assert 'data-testid="refusal"' in body and "第十八条" in body
    assert 'name="applicant_name"' not in body
    response = client.post(
        reverse("changes:new", args=["withdrawal"]),
        {"student": str(s["person"].pk), "applicant_name": "林爸爸"},
    )
    assert response.status_code == 400
    assert "义务教育阶段学生不予办理退学手续" in _body(response)
    assert ChangeRequest.objects.count() == 0


def test_suspension_field_errors_next_to_inputs_then_submitted(client, s):
    _login(client, s["reg_src"])
    url = reverse("changes:new", args=["suspension"])
    data = {
        "student": str(s["person"].pk),
        "reason": "illness",
        "start_date": "2026-12-01",
        "end_date": "2028-01-01",
    }
    response = client.post(url, data)
    body = _body(response)
    assert response.status_code == 400
    assert 'id="id_end_date-error"' in body and "第十六条" in body
    assert ChangeRequest.objects.count() == 0
    response = client.post(url, {**data, "end_date": "2027-06-30", "applicant_name": "林大山"})
    req = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert (req.kind, req.reason, req.facts["applicant_name"]) == ("suspension", "illness", "林大山")
    _login(client, s["haizhu"])
    body = _body(client.get(reverse("changes:detail", args=[req.pk])))
    assert "休学原因" in body and "伤病" in body and "2027-06-30" in body


def test_key_data_change_leaves_blank_fields_unchanged_and_hides_the_number(client, s):
    _login(client, s["reg_src"])
    url = reverse("changes:new", args=["key_data_change"])
    page = _body(client.get(url + f"?student={s['person'].pk}"))
    assert s["person"].id_number not in page and "现身份证件号" in page
    response = client.post(
        url, {"student": str(s["person"].pk), "name": "林晓雨", "evidence_ref": "户口簿变更页"}
    )
    assert response.status_code == 302
    req = ChangeRequest.objects.get()
    assert req.facts["changed"] == ["name"]
    body = _body(client.get(reverse("changes:detail", args=[req.pk])))
    assert "变更后姓名" in body and "林晓雨" in body and s["person"].id_number not in body


def test_deferral_by_the_county_of_household_registration(client, s):
    _login(client, s["haizhu"])
    url = reverse("changes:new", args=["deferral"])
    assert "户口所在地" in _body(client.get(url))
    child = {
        "name": "陈小宝",
        "gender": "1",
        "birth_date": "2020-03-14",
        "id_type": "1",
        "id_number": f.resident_id(birth=timezone.datetime(2020, 3, 14).date(), seq=31),
        "household_code": "440105",
        "school_year": "2026",
        "applicant_name": "陈大宝",
        "reason_text": "身体原因",
    }
    missing = client.post(url, child)
    assert missing.status_code == 400 and 'id="id_evidence-error"' in _body(missing)
    response = client.post(url, {**child, "evidence": "医院诊断证明"})
    assert response.status_code == 302
    req = ChangeRequest.objects.get()
    assert (req.kind, req.state) == ("deferral", "approved")  # the county's own decision
    body = _body(client.get(reverse("changes:detail", args=[req.pk])))
    assert "陈小宝" in body and child["id_number"] not in body


def test_student_page_has_the_change_tab_timeline_and_menu(client, s, pending):
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("students:detail", args=[s["person"].pk])))
    assert 'href="#changes"' in body and 'id="changes"' in body
    assert 'data-testid="timeline"' in body and "转学" in body and "海珠二小" in body
    assert 'data-testid="chain"' in body
    # A request is in flight, so no other change may start (one open request per student).
    assert 'data-testid="kind-menu"' not in body and "正在办理" in body
    change_decide(actor=s["reg_src"], request=pending, action="reject", comment="不同意", position=1)
    body = _body(client.get(reverse("students:detail", args=[s["person"].pk])))
    assert 'data-testid="kind-menu"' in body
    assert reverse("changes:new", args=["suspension"]) in body
    assert reverse("changes:new", args=["resumption"]) not in body  # not suspended
    assert reverse("changes:new", args=["graduation"]) not in body  # grade 3 is no graduating grade
    assert "第十八条" in body  # withdrawal listed disabled, with the article
    # The county sees the timeline but starts nothing for the school.
    _login(client, s["haizhu"])
    body = _body(client.get(reverse("students:detail", args=[s["person"].pk])))
    assert 'data-testid="timeline"' in body and 'data-testid="kind-menu"' not in body


# ---------------------------------------------------------------------------------------------------------
# Cohorts, promotion, dashboard
# ---------------------------------------------------------------------------------------------------------


def test_graduation_of_a_grade_with_preview(client, s):
    sixth = [c.enrolled(s["src"], grade=6, name=n) for n in ("王一", "王二")]
    _login(client, s["reg_src"])
    url = reverse("changes:cohort_graduation")
    preview = client.get(url, {"grade": "6", "kind": "graduation"})
    body = _body(preview)
    assert 'data-testid="preview"' in body and "王一" in body and "王二" in body and "林小雨" not in body
    assert ChangeRequest.objects.count() == 0
    done = client.post(url, {"grade": "6", "kind": "graduation", "confirm": "1"})
    assert 'data-testid="cohort-result"' in _body(done)
    assert {e.status for e in Enrollment.objects.filter(pk__in=[e.pk for e in sixth])} == {"07"}


def test_progression_cohort_preview_masks_names_then_submits(client, s):
    junior = f.school("440105", "junior", name="海珠中学")
    reg = f.registrar(junior)
    c.enrolled(s["src"], grade=6, name="赵小明")
    _login(client, reg)
    url = reverse("changes:cohort_progression")
    data = {"from_school_code": s["src"].school_code, "grade": "6", "class_name": "初一1班"}
    body = _body(client.post(url, data))
    assert "赵*明" in body and "赵小明" not in body
    assert ChangeRequest.objects.count() == 0
    done = client.post(url, {**data, "confirm": "1"})
    assert 'data-testid="cohort-result"' in _body(done)
    assert ChangeRequest.objects.get().kind == "progression"


def test_promotion_preview_then_run_by_the_county(client, s):
    _login(client, s["haizhu"])
    url = reverse("changes:promotion")
    year = str(
        timezone.localdate().year if timezone.localdate().month >= 7 else timezone.localdate().year - 1
    )
    body = _body(client.get(url, {"school_year": year}))
    assert 'data-testid="promotion-counts"' in body and "海珠一小" in body
    assert 'data-category="promote"' in body
    response = client.post(url, {"school_year": year, "confirm": "1"})
    assert response.status_code == 302  # the run is a queue task; the page polls it
    from tests.factories.tasks import run_queued_tasks

    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert 'data-testid="promotion-result"' in _body(client.get(response["Location"]))
    assert Enrollment.objects.get(pk=s["enrollment"].pk).grade in (3, 4)


def test_dashboard_summarises_the_change_worklist(client, s, pending):
    step = ApprovalStep.objects.get(request=pending, position=1)
    step.due_on = timezone.localdate() - timedelta(days=10)
    step.save(update_fields=["due_on"])
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("dashboard:dashboard")))
    assert 'data-testid="change-stats"' in body and "等待我办理" in body and "林小雨" in body
    assert "badge bad overdue" in body
    _login(client, s["haizhu"])
    body = _body(client.get(reverse("dashboard:dashboard")))
    assert "下级超期上报" in body


# ---------------------------------------------------------------------------------------------------------
# Every kind's form
# ---------------------------------------------------------------------------------------------------------

PRIMARY_KINDS = {
    "suspension": "applicant_name",
    "abroad": "document_number",
    "reform_placement": "decision_ref",
    "special_education": "evidence_ref",
    "key_data_change": "evidence_ref",
    "death": "date_of_death",
}


@pytest.mark.parametrize(("kind", "first_input"), sorted(PRIMARY_KINDS.items()))
def test_each_record_kind_form_renders_its_inputs(client, s, kind, first_input):
    _login(client, s["reg_src"])
    response = client.get(reverse("changes:new", args=[kind]) + f"?student={s['person'].pk}")
    assert response.status_code == 200
    body = _body(response)
    assert f'name="{first_input}"' in body and 'name="student"' in body
    assert "林小雨" in body and s["person"].id_number not in body


def test_senior_graduating_student_gets_the_senior_kinds(client, tree):
    c.calendar()
    senior = f.school("440105", "senior", name="海珠高中")
    reg = f.registrar(senior)
    e = c.enrolled(senior, grade=12, name="高三生", birth_date=timezone.datetime(2008, 5, 1).date())
    _login(client, reg)
    body = _body(client.get(reverse("students:detail", args=[e.person_id])))
    for kind in ("graduation", "completion", "incomplete", "withdrawal"):
        assert reverse("changes:new", args=[kind]) + f"?student={e.person_id}" in body, kind
    assert "第十八条" not in body  # withdrawal is allowed in senior high (备案 to the county)
    response = client.post(
        reverse("changes:new", args=["withdrawal"]), {"student": str(e.person_id), "applicant_name": "高爸爸"}
    )
    assert response.status_code == 302
    req = ChangeRequest.objects.get(kind="withdrawal")
    assert [st.mode for st in req.steps.order_by("position")] == ["approve", "notify"]
    assert req.current_position == 1  # the school's confirmation is its submission
    # The county files it (备案): its worklist offers 备案 and no rejection.
    county = c.dept_registrar("440105")
    _login(client, county)
    body = _body(client.get(reverse("changes:worklist")))
    assert ">备案</button>" in body and 'value="reject"' not in body


def test_abroad_and_death_through_their_forms(client, s):
    _login(client, s["reg_src"])
    url = reverse("changes:new", args=["abroad"])
    response = client.post(
        url,
        {
            "student": str(s["person"].pk),
            "destination": "GBR",
            "document_type": "A",
            "document_number": "E12345678",
            "departure_date": "2026-12-20",
        },
    )
    assert response.status_code == 302, _body(response)
    req = ChangeRequest.objects.get(kind="abroad")
    body = _body(client.get(reverse("changes:detail", args=[req.pk])))
    assert "英国" in body and "E12345678" not in body and "护照" in body
    client.post(reverse("changes:cancel", args=[req.pk]), {"reason": "改期"})
    future = client.post(
        reverse("changes:new", args=["death"]),
        {"student": str(s["person"].pk), "date_of_death": "2099-01-01"},
    )
    assert future.status_code == 400 and 'id="id_date_of_death-error"' in _body(future)


def test_new_change_refused_while_another_is_in_flight(client, s, pending):
    _login(client, s["reg_src"])
    body = _body(client.get(reverse("changes:new", args=["suspension"]) + f"?student={s['person'].pk}"))
    assert 'data-error-code="request_in_flight"' in body and 'name="applicant_name"' not in body
    assert reverse("changes:detail", args=[pending.pk]) in body


def test_progression_through_the_form_by_the_admitting_school(client, s):
    junior = f.school("440105", "junior", name="海珠中学")
    reg = f.registrar(junior)
    sixth = c.enrolled(s["src"], grade=6, name="钱小六")
    number = Person.objects.get(pk=sixth.person_id).student_number
    _login(client, reg)
    url = reverse("changes:new", args=["progression"])
    found = client.post(url, {"step": "lookup", "student_number": number, "name": "钱小六"})
    body = _body(found)
    assert 'data-testid="found"' in body and "海珠一小" in body and 'name="entry_method"' in body
    response = client.post(
        url,
        {
            "step": "submit",
            "student_number": number,
            "name": "钱小六",
            "class_name": "初一2班",
            "admission_ref": "2026年海珠区初中录取名单",
            "entry_ym": "2026-09",
            "entry_method": "11",
        },
    )
    assert response.status_code == 302, _body(response)
    req = ChangeRequest.objects.get(kind="progression")
    assert (req.target_school_id, req.facts["grade"], req.facts["entry_ym"]) == (junior.pk, 7, "202609")


def test_return_from_abroad_unknown_student_is_a_field_error(client, s):
    _login(client, s["reg_dst"])
    response = client.post(
        reverse("changes:new", args=["return_from_abroad"]),
        {
            "student_number": "G000000000000000000",
            "name": "无此人",
            "abroad_to": "2026-06-30",
            "study_record": "成绩单",
            "grade": "3",
            "class_name": "1班",
        },
    )
    assert response.status_code == 400
    assert 'id="id_student_number-error"' in _body(response)
    assert ChangeRequest.objects.count() == 0
