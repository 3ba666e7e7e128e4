"""Approving, as people do it (issue 8 item 10): an approval is confirmed after seeing what will change (before →
after), work cards show the change itself, county and city departments approve in batch with one result per
item (each decided alone, with the single path's checks), a request returned to its school sits on that
school's worklist, and notices of finished work are marked done."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.api.conftest import Api
from tests.factories import changes as c
from tests.factories import core as f
from xueji.changes import kinds
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.changes.presenters import batch_preview, change_lines, notification_out
from xueji.changes.queries import notifications_for, returned_to, transfer_lookup
from xueji.changes.services import (
    batch_items_parse,
    change_approve_batch,
    change_cancel,
    change_decide,
    change_resubmit,
    change_submit,
)
from xueji.core.errors import FieldError
from xueji.core.masking import mask_id_number
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _body(response: Any) -> str:
    return response.content.decode()


def _suspension(reg: Any, enrollment: Enrollment, *, start: Any = None) -> ChangeRequest:
    start = start or timezone.localdate()
    return change_submit(
        actor=reg,
        kind="suspension",
        enrollment=enrollment,
        facts={
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=120)).isoformat(),
            "reason": "illness",
            "applicant_name": "张大明",
        },
    )


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst = f.school("440105", "primary", name="海珠二小")
    other = f.school("440106", "primary", name="天河一小")
    out = {
        "src": src,
        "dst": dst,
        "other": other,
        "reg_src": f.registrar(src),
        "reg_dst": f.registrar(dst),
        "reg_other": f.registrar(other),
        "haizhu": c.dept_registrar("440105"),
        "tianhe": c.dept_registrar("440106"),
        "a": c.enrolled(src, grade=3, name="林小雨"),
        "b": c.enrolled(src, grade=3, name="周大海"),
        "k": c.enrolled(src, grade=3, name="王小明"),
        "t": c.enrolled(other, grade=3, name="赵天河"),
    }
    return out


@pytest.fixture
def work(s):  # type: ignore[no-untyped-def]
    """A: a suspension at 海珠区 (the county decides); B: a transfer at the sending school (the county sees it
    but does not decide it); K: a key-data change (new name) at 海珠区; T: a suspension in 天河区."""
    person_b = Person.objects.get(pk=s["b"].person_id)
    return {
        "A": _suspension(s["reg_src"], s["a"]),
        "B": change_submit(
            actor=s["reg_dst"],
            kind="transfer",
            enrollment=transfer_lookup(student_number=person_b.student_number, name="周大海"),
            target_school=s["dst"],
            facts={"class_name": "3班"},
        ),
        "K": change_submit(
            actor=s["reg_src"],
            kind="key_data_change",
            enrollment=s["k"],
            facts={"name": "王晓明", "evidence_ref": "户口簿变更页"},
        ),
        "T": _suspension(s["reg_other"], s["t"]),
    }


def _state(req: ChangeRequest) -> tuple[str, int]:
    fresh = ChangeRequest.objects.get(pk=req.pk)
    return fresh.state, fresh.current_position


# --- what will change ----------------------------------------------------------------------------------------


def test_change_lines_show_before_and_after_with_the_facts_vocabulary(s, work):
    [status] = change_lines(work["A"])
    assert (status.label, status.before, status.after) == ("学籍状态", "在读", "休学")
    [name] = change_lines(work["K"])
    assert (name.label, name.before, name.after) == ("姓名", "王小明", "王晓明")
    school, klass = change_lines(work["B"])
    assert (school.before, school.after, klass.after) == ("海珠一小", "海珠二小", "3班")


def _fake(kind: str, facts: dict[str, Any], **record: Any) -> SimpleNamespace:
    """A request as ``what_changes`` reads it (the record as it stands now)."""
    e = SimpleNamespace(
        status=record.get("status", "01"),
        grade=record.get("grade", 3),
        class_name=record.get("class_name", "1班"),
        stage=record.get("stage", "primary"),
        school=SimpleNamespace(name="海珠一小"),
    )
    person = SimpleNamespace(
        name="林小雨",
        gender="2",
        birth_date=date(2018, 3, 14),
        id_type="1",
        id_number="440105201803140021",
        disability_type=record.get("disability", "0"),
    )
    return SimpleNamespace(
        kind=kind, facts=facts, enrollment=e, person=person, target_school=SimpleNamespace(name="海珠二小")
    )


@pytest.mark.parametrize(
    ("kind", "facts", "record", "expected"),
    [
        ("withdrawal", {}, {}, [("status", "01", "03")]),
        ("death", {}, {"status": "05"}, [("status", "05", "11")]),
        ("graduation", {}, {}, [("status", "01", "07")]),
        ("completion", {}, {}, [("status", "01", "08")]),
        ("abroad", {"status": "13"}, {}, [("status", "01", "13")]),
        (
            "resumption",
            {"grade": 4, "class_name": "2班"},
            {"status": "02"},
            [("status", "02", "05"), ("grade", 3, 4), ("class_name", "1班", "2班")],
        ),
        (
            "progression",
            {"to_school": "海珠中学", "grade": 7, "class_name": "7(1)班"},
            {"grade": 6},
            [("school", "海珠一小", "海珠中学"), ("grade", 6, 7), ("class_name", "1班", "7(1)班")],
        ),
        (
            "return_from_abroad",
            {"grade": 5, "class_name": "5班"},
            {},
            [("school", "", "海珠二小"), ("grade", "", 5), ("class_name", "", "5班")],
        ),
        (
            "reform_placement",
            {"reform_school_name": "广州市专门学校"},
            {},
            [("reform_school_name", "", "广州市专门学校")],
        ),
        (
            "reform_return",
            {"reform_school_name": "广州市专门学校", "grade": 9, "class_name": "9班"},
            {"grade": 8},
            [("reform_school_name", "广州市专门学校", ""), ("grade", 8, 9), ("class_name", "1班", "9班")],
        ),
        (
            "special_education",
            {"disability_type": "2", "service_name": "随班就读"},
            {},
            [("disability_type", "0", "2"), ("service_name", "", "随班就读")],
        ),
        ("special_ed_decision", {"decision": "graduate"}, {}, [("status", "01", "07")]),
        (
            "special_ed_decision",
            {"decision": "repeat", "stage": "primary", "grade": 2, "class_name": "1班"},
            {},
            [("stage", "primary", "primary"), ("grade", 3, 2), ("class_name", "1班", "1班")],
        ),
        (
            "key_data_change",
            {"changed": ["name", "id_number"], "new": {"name": "林晓雨", "id_number": "4401**********0043"}},
            {},
            [
                ("name", "林小雨", "林晓雨"),
                ("id_number", mask_id_number("440105201803140021"), "4401**********0043"),
            ],
        ),
        ("deferral", {}, {}, []),
    ],
)
def test_each_kind_says_what_its_approval_writes(kind, facts, record, expected):
    changes = kinds.get(kind).what_changes(_fake(kind, facts, **record))
    assert [(k, str(b), str(a)) for k, b, a in changes] == [(k, str(b), str(a)) for k, b, a in expected]


def test_work_cards_show_the_change_itself(client, s, work):
    client.force_login(s["haizhu"])
    body = _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="wi-changes"' in body
    assert '<span class="was">王小明</span>' in body and "<strong>王晓明</strong>" in body  # the new name
    assert '<span class="was">在读</span>' in body and "<strong>休学</strong>" in body


# --- approval with confirmation ------------------------------------------------------------------------------


def test_approving_first_shows_before_and_after_and_decides_nothing(client, s, work):
    client.force_login(s["haizhu"])
    url = reverse("changes:decide", args=[work["K"].pk])
    response = client.post(url, {"action": "approve", "position": "1"}, **HTMX)
    body = _body(response)
    assert response.status_code == 200 and "<html" not in body
    assert 'data-testid="confirm"' in body and 'data-testid="change-table"' in body
    assert "王小明" in body and "王晓明" in body and "批准后立即生效" in body
    assert _state(work["K"]) == ("pending", 1)
    # Without htmx: the confirmation page; the same POST with confirm=1 decides.
    page = client.post(url, {"action": "approve", "position": "1", "comment": "材料齐全"})
    assert page.status_code == 200 and 'data-testid="confirm-approve"' in _body(page)
    assert "材料齐全" in _body(page)
    assert _state(work["K"]) == ("pending", 1)
    done = client.post(url, {"action": "approve", "position": "1", "confirm": "1", "comment": "材料齐全"})
    assert done.status_code == 302
    assert _state(work["K"])[0] == "approved"
    assert Person.objects.get(pk=s["k"].person_id).name == "王晓明"


def test_the_confirmation_says_when_a_change_starting_later_takes_effect(client, s):
    start = timezone.localdate() + timedelta(days=20)
    req = _suspension(s["reg_src"], s["a"], start=start)
    client.force_login(s["haizhu"])
    body = _body(
        client.post(reverse("changes:decide", args=[req.pk]), {"action": "approve", "position": "1"})
    )
    assert f"变动将于 {start.isoformat()} 生效" in body
    client.post(
        reverse("changes:decide", args=[req.pk]), {"action": "approve", "position": "1", "confirm": "1"}
    )
    assert _state(req) == ("scheduled", 1)
    detail = _body(client.get(reverse("changes:detail", args=[req.pk])))
    assert 'data-testid="scheduled"' in detail and start.isoformat() in detail
    assert 'data-state="scheduled"' in detail and "已批准待生效" in detail
    timeline = _body(client.get(reverse("students:detail", args=[s["a"].person_id])))
    assert 'data-testid="tl-effective"' in timeline and f"定于 {start.isoformat()} 生效" in timeline


def test_closing_the_confirmation_puts_the_card_back(client, s, work):
    client.force_login(s["haizhu"])
    url = reverse("changes:work_item", args=[work["A"].pk]) + "?position=1"
    body = _body(client.get(url, **HTMX))
    assert 'name="action" value="approve"' in body and 'data-testid="confirm"' not in body
    assert client.get(url).status_code == 302  # no htmx: back to the worklist


def test_a_party_that_does_not_decide_gets_no_confirmation(client, s, work):
    client.force_login(s["haizhu"])  # the transfer's current step is the sending school's
    response = client.post(
        reverse("changes:decide", args=[work["B"].pk]), {"action": "approve", "position": "1"}
    )
    assert response.status_code == 403
    assert _state(work["B"]) == ("pending", 1)


# --- batch approval ------------------------------------------------------------------------------------------


def test_a_database_error_on_one_item_leaves_it_undecided_and_the_others_go_on(s, work, monkeypatch):
    from django.db import DatabaseError

    from xueji.changes import services

    real = services.change_decide

    def flaky(**kw):  # type: ignore[no-untyped-def]
        if kw["request"].pk == work["A"].pk:
            raise DatabaseError("deadlock detected")
        return real(**kw)

    monkeypatch.setattr(services, "change_decide", flaky)
    results = change_approve_batch(actor=s["haizhu"], items=[(str(work[k].pk), 1) for k in ("A", "K")])
    assert [(r.ok, r.code) for r in results] == [(False, "error"), (True, "")]
    assert _state(work["A"]) == ("pending", 1) and _state(work["K"])[0] == "approved"


def test_batch_decides_each_item_alone_with_the_single_paths_checks(s, work):
    missing = str(uuid.uuid4())
    items = [(str(work[k].pk), 1) for k in ("A", "B", "T", "K")] + [(missing, 1)]
    results = change_approve_batch(actor=s["haizhu"], items=items)
    by_id = {r.request_id: r for r in results}
    assert [r.ok for r in results] == [True, False, False, True, False]
    assert by_id[str(work["B"].pk)].code == "not_your_step"  # visible to the county, not its step
    hidden, absent = by_id[str(work["T"].pk)], by_id[missing]
    assert (hidden.code, hidden.message, hidden.request) == (absent.code, absent.message, None)  # no reveal
    assert hidden.code == "not_found"
    assert _state(work["A"])[0] == "approved" and _state(work["K"])[0] == "approved"
    assert _state(work["B"]) == ("pending", 1) and _state(work["T"]) == ("pending", 1)
    assert ApprovalStep.objects.get(request=work["T"], position=1).decided_by is None
    # A resent batch is harmless: what the caller approved is a replay, nothing is written twice.
    again = change_approve_batch(actor=s["haizhu"], items=items[:1])
    assert again[0].ok and _state(work["A"])[0] == "approved"


def test_batch_items_are_checked(s):
    with pytest.raises(FieldError) as exc:
        batch_items_parse([])
    assert (exc.value.field, exc.value.code) == ("items", "required")
    with pytest.raises(FieldError) as exc:
        batch_items_parse(["not-a-uuid:1"])
    assert exc.value.code == "invalid"
    with pytest.raises(FieldError) as exc:
        batch_items_parse([f"{uuid.uuid4()}:1" for _ in range(101)])
    assert exc.value.code == "too_many"
    one = f"{uuid.uuid4()}:2"
    assert len(batch_items_parse([one, one])) == 1
    with pytest.raises(FieldError) as exc:
        change_approve_batch(actor=s["haizhu"], items=[(str(uuid.uuid4()), 1)] * 101)
    assert exc.value.code == "too_many"


def test_batch_on_the_page_confirms_once_then_lists_each_result(client, s, work):
    client.force_login(s["haizhu"])
    page = _body(client.get(reverse("changes:worklist")))
    assert 'id="batch-form"' in page
    assert page.count('data-testid="batch-check"') == 2  # A and K; B is not the county's step
    values = [f"{work[k].pk}:1" for k in ("A", "B", "T")]
    preview = client.post(reverse("changes:batch"), {"item": values})
    body = _body(preview)
    assert preview.status_code == 200 and body.count('data-testid="batch-preview"') == 3
    assert "确认通过 1 项" in body and "未找到该申请或不在您的管辖范围内" in body and "赵天河" not in body
    assert _state(work["A"]) == ("pending", 1)  # the confirmation decides nothing
    done = client.post(reverse("changes:batch"), {"item": values, "confirm": "1"})
    body = _body(done)
    assert done.status_code == 200 and body.count('data-testid="batch-result"') == 3
    assert 'data-ok="1"' in body and body.count('data-ok="0"') == 2
    assert "已办理 1 项，未办理 2 项" in body and "赵天河" not in body
    assert _state(work["A"])[0] == "approved" and _state(work["B"]) == ("pending", 1)
    assert _state(work["T"]) == ("pending", 1)


def test_the_batch_confirmation_names_what_will_not_be_decided(s, work):
    rows = batch_preview(
        s["haizhu"], [(str(work["A"].pk), 1), (str(work["B"].pk), 1), (str(work["A"].pk), 9)]
    )
    assert [r["why"] == "" for r in rows] == [True, False, False]
    assert "您不能办理" in rows[1]["why"] and rows[2]["why"] == "未找到该办理环节"


def test_batch_all_takes_every_card_the_viewer_can_approve(client, s, work):
    client.force_login(s["haizhu"])
    body = _body(client.post(reverse("changes:batch"), {"all": "1"}))
    assert body.count('data-testid="batch-preview"') == 2 and "确认通过 2 项" in body


def test_batch_with_nothing_chosen_goes_back_with_the_reason(client, s, work):
    client.force_login(s["haizhu"])
    response = client.post(reverse("changes:batch"), {"item": ["x"]}, follow=True)
    assert "所选事项无效" in _body(response)


def test_a_school_worklist_offers_no_batch(client, s, work):
    client.force_login(s["reg_src"])  # the sending school decides the transfer one by one
    assert 'id="batch-form"' not in _body(client.get(reverse("changes:worklist")))


def test_batch_through_the_api_answers_per_item(s, work):
    api = Api(s["haizhu"])
    body = {
        "items": [{"request_id": str(work[k].pk), "position": 1} for k in ("A", "B", "T")],
        "comment": "同意",
    }
    response = api.post("/api/v1/changes/decisions/batch", body)
    assert response.status_code == 200
    out = response.json()
    assert (out["approved"], out["refused"]) == (1, 2)
    assert [(i["ok"], i["code"]) for i in out["items"]] == [
        (True, ""),
        (False, "not_your_step"),
        (False, "not_found"),
    ]
    assert out["items"][0]["request_state_after"] == "approved"
    assert "赵天河" not in json.dumps(out, ensure_ascii=False)
    assert _state(work["T"]) == ("pending", 1)
    bad = api.post("/api/v1/changes/decisions/batch", {"items": [], "comment": ""})
    assert bad.status_code == 422


def test_the_openapi_publishes_the_batch(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/changes/decisions/batch"]["post"]
    assert {"200", "400", "403", "404"} <= set(operation["responses"])


# --- returned requests on the school's worklist --------------------------------------------------------------


def test_a_returned_request_sits_on_the_initiators_worklist_until_resubmitted(client, s, work):
    change_decide(actor=s["haizhu"], request=work["A"], action="return", comment="请补充诊断证明", position=1)
    [item] = returned_to(viewer=s["reg_src"])
    assert (item.request.pk, item.step.comment) == (work["A"].pk, "请补充诊断证明")
    assert returned_to(viewer=s["reg_dst"]) == [] and returned_to(viewer=s["haizhu"]) == []
    client.force_login(s["reg_src"])
    body = _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="returned-list"' in body and "请补充诊断证明" in body and "林小雨" in body
    assert f'action="{reverse("changes:resubmit", args=[work["A"].pk])}"' in body
    assert f'action="{reverse("changes:cancel", args=[work["A"].pk])}"' in body
    response = client.post(
        reverse("changes:resubmit", args=[work["A"].pk]), {"next": reverse("changes:worklist")}
    )
    assert response["Location"] == reverse("changes:worklist")
    assert _state(work["A"]) == ("pending", 1)
    assert returned_to(viewer=s["reg_src"]) == []


def test_a_returned_request_can_be_withdrawn_from_the_worklist(client, s, work):
    change_decide(actor=s["haizhu"], request=work["A"], action="return", comment="材料不全", position=1)
    client.force_login(s["reg_src"])
    client.post(
        reverse("changes:cancel", args=[work["A"].pk]),
        {"reason": "家长撤回", "next": reverse("changes:worklist")},
    )
    assert _state(work["A"])[0] == "cancelled"
    assert 'data-testid="returned-list"' not in _body(client.get(reverse("changes:worklist")))


# --- notifications of finished work --------------------------------------------------------------------------


def test_a_step_notice_is_done_once_anyone_of_the_unit_decided(s, work):
    colleague = c.dept_registrar("440105")
    [notice] = [n for n in notifications_for(viewer=colleague) if n.request_id == work["A"].pk]
    assert (notice.needs_action, notice.done_at) == (True, None)
    change_decide(actor=s["haizhu"], request=work["A"], action="approve", position=1)
    notice.refresh_from_db()
    assert notice.done_at is not None
    assert notification_out(notice, set())["done"] is True
    # The news of the result is not work: nothing to mark done.
    news = Notification.objects.filter(request=work["A"], org_unit=s["src"].org).latest("created_at")
    assert (news.needs_action, news.done_at) == (False, None)


def test_the_return_notice_is_done_when_resubmitted_and_a_cancel_closes_the_rest(s, work):
    change_decide(actor=s["haizhu"], request=work["A"], action="return", comment="补充", position=1)
    returned = Notification.objects.get(request=work["A"], org_unit=s["src"].org, needs_action=True)
    assert returned.done_at is None
    change_resubmit(actor=s["reg_src"], request=work["A"])
    returned.refresh_from_db()
    assert returned.done_at is not None
    waiting = Notification.objects.get(
        request=work["A"], org_unit=s["haizhu"].grants.first().org_unit, done_at=None
    )
    change_cancel(actor=s["reg_src"], request=work["A"], reason="家长撤回")
    waiting.refresh_from_db()
    assert waiting.done_at is not None


def test_the_panel_shows_a_done_notice_as_done(client, s, work):
    colleague = c.dept_registrar("440105")
    change_decide(actor=s["haizhu"], request=work["A"], action="approve", position=1)
    client.force_login(colleague)
    body = _body(client.get(reverse("changes:worklist")))
    assert 'data-testid="notification-done"' in body
    api = Api(colleague).get("/api/v1/changes/notifications").json()
    mine = [n for n in api["items"] if n["request_id"] == str(work["A"].pk)]
    assert mine and all(n["done"] and n["needs_action"] for n in mine)
