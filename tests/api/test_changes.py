"""Change requests through the API (/api/v1/changes/): the jurisdiction matrix of every endpoint, a full
转学 (第15条) through the API, idempotent submissions and decisions (issue #3, security.md test 3), one-click
decisions from the worklist, notifications, timelines, cohorts and masking."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.api import matrix
from tests.api.conftest import Api, World, pdf_upload, register
from tests.api.matrix import LIST_OTHER_REGION
from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.accounts.models import User
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.changes.policy import NATIONAL_DEFAULTS
from xueji.changes.services import change_decide, change_submit
from xueji.schools.models import School
from xueji.students.models import Enrollment, Person

CHANGES = "/api/v1/changes"


class KeyedApi(Api):
    """``Api`` that can send an ``Idempotency-Key`` header."""

    def send(self, url: str, body: Any, key: str | None) -> Any:
        headers = dict(self.headers)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(url, json.dumps(body), content_type="application/json", **headers)


def suspension_facts() -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=90)).isoformat(),
        "reason": "illness",
        "applicant_name": "王家长",
    }


@dataclass
class Changes:
    w: World
    school_a2: School  # another 海珠区 school: receives world.student by transfer
    reg_a2: User
    incoming: ChangeRequest  # 转学 of world.student: pending at school_a (position 1)
    outgoing: ChangeRequest  # 休学 started by school_a: pending at 海珠区 (position 1)
    returned: ChangeRequest  # 休学 started by school_a, returned by 海珠区
    fresh: Person  # a school_a student without any request
    notice: Notification  # school_a's notice of the incoming transfer

    @property
    def student(self) -> Person:
        """The world's student (the matrix's default marker is its name)."""
        return self.w.student

    def api(self, who: str) -> KeyedApi:
        if who == "anonymous":
            return KeyedApi()
        user = self.reg_a2 if who == "reg_a2" else self.w.users[who]
        return KeyedApi(user)

    def enrollment(self, person: Person) -> Enrollment:
        return Enrollment.objects.get(person=person, is_active=True)


@pytest.fixture
def changes(world: World, monkeypatch: pytest.MonkeyPatch) -> Changes:
    # 转学 may not be started from 15 July to 14 August (policy ``transfer_blackout``): not today's business.
    monkeypatch.setitem(NATIONAL_DEFAULTS, "transfer_blackout", [])
    c.calendar()
    reg_a, county_a = world.users["registrar_a"], world.users["county_a"]
    school_a2 = f.school("440105", "primary", name="海珠区第二小学")
    reg_a2 = f.registrar(school_a2, username="reg_a2")
    incoming = change_submit(
        actor=reg_a2,
        kind="transfer",
        enrollment=Enrollment.objects.get(person=world.student),
        target_school=school_a2,
        facts={"class_name": "1班"},
    )
    outgoing = change_submit(
        actor=reg_a,
        kind="suspension",
        enrollment=Enrollment.objects.get(person=register(world.school_a, reg_a, name="孙休学")),
        facts=suspension_facts(),
    )
    returned = change_submit(
        actor=reg_a,
        kind="suspension",
        enrollment=Enrollment.objects.get(person=register(world.school_a, reg_a, name="钱退回")),
        facts=suspension_facts(),
    )
    returned = change_decide(
        actor=county_a, request=returned, action="return", comment="请补充诊断证明", position=1
    )
    fresh = register(world.school_a, reg_a, name="陈提交")
    notice = Notification.objects.get(org_unit=world.school_a.org, request=incoming)
    return Changes(world, school_a2, reg_a2, incoming, outgoing, returned, fresh, notice)


# --- the jurisdiction matrix ---------------------------------------------------------------------------------


Endpoint = matrix.Endpoint[Changes]
_expect = matrix.expect

INITIATOR_ONLY = {"county_a": 403, "province_gd": 403}
DEPARTMENT_ONLY = {"registrar_a": 404}


def _school_year() -> int:
    today = timezone.localdate()
    return today.year if today.month >= 7 else today.year - 1


def _haizhu() -> str:
    return f.dept("440105").name


ENDPOINTS = [
    Endpoint(
        "worklist",
        "GET",
        lambda x: f"{CHANGES}/worklist",
        _expect(**LIST_OTHER_REGION),
        shows=("registrar_a",),
    ),
    Endpoint("list", "GET", lambda x: f"{CHANGES}/", _expect(**LIST_OTHER_REGION)),
    Endpoint("detail", "GET", lambda x: f"{CHANGES}/{x.incoming.pk}", _expect()),
    Endpoint(
        "submit",
        "POST",
        lambda x: f"{CHANGES}/",
        _expect(**INITIATOR_ONLY, registrar_a=201),
        body=lambda x: {
            "kind": "suspension",
            "enrollment_id": str(x.enrollment(x.fresh).pk),
            "facts": suspension_facts(),
        },
        marker=lambda x: x.fresh.name,
        shows=(),
        keyed=True,
    ),
    Endpoint(
        "decide",
        "POST",
        lambda x: f"{CHANGES}/{x.incoming.pk}/decisions",
        _expect(**INITIATOR_ONLY),
        body=lambda x: {"position": 1, "action": "approve"},
        shows=(),
        keyed=True,
    ),
    Endpoint(
        "resubmit",
        "POST",
        lambda x: f"{CHANGES}/{x.returned.pk}/resubmit",
        _expect(**INITIATOR_ONLY),
        body=lambda x: {"comment": "已补充诊断证明"},
        marker=lambda x: "钱退回",
        shows=("registrar_a",),
    ),
    Endpoint(
        "cancel",
        "POST",
        lambda x: f"{CHANGES}/{x.outgoing.pk}/cancel",
        _expect(**INITIATOR_ONLY),
        body=lambda x: {"reason": "家长撤回申请"},
        marker=lambda x: "孙休学",
        shows=("registrar_a",),
    ),
    Endpoint(
        "notifications",
        "GET",
        lambda x: f"{CHANGES}/notifications",
        _expect(**LIST_OTHER_REGION),
        marker=lambda x: "转学",
        shows=("registrar_a",),
    ),
    Endpoint(
        "notifications_read",
        "POST",
        lambda x: f"{CHANGES}/notifications/read",
        _expect(**LIST_OTHER_REGION),
        body=lambda x: {"ids": [x.notice.pk]},
        marker=lambda x: '"marked": 1',
        shows=("registrar_a",),
    ),
    Endpoint(
        "timeline",
        "GET",
        lambda x: f"{CHANGES}/timeline/{x.w.student.pk}",
        _expect(),
        marker=lambda x: "海珠区第二小学",
    ),
    Endpoint(
        "cohort_graduation",
        "POST",
        lambda x: f"{CHANGES}/cohorts/graduation",
        _expect(**INITIATOR_ONLY),
        body=lambda x: {"school_id": x.w.school_a.pk, "grade": 6},
        shows=(),
    ),
    Endpoint(
        "cohort_progression",
        "POST",
        lambda x: f"{CHANGES}/cohorts/progression",
        _expect(**INITIATOR_ONLY),
        body=lambda x: {
            "from_school_id": x.school_a2.pk,
            "to_school_id": x.w.school_a.pk,
            "grade": 6,
            "class_name": "1班",
        },
        shows=(),
    ),
    Endpoint(
        "promotion_preview",
        "GET",
        lambda x: f"{CHANGES}/promotion/preview?org_id={f.dept('440105').pk}&school_year={_school_year()}",
        _expect(**DEPARTMENT_ONLY),
        marker=lambda x: _haizhu(),
        shows=("county_a", "province_gd"),
    ),
    Endpoint(
        "promotion_run",
        "POST",
        lambda x: f"{CHANGES}/promotion/run",
        _expect(**DEPARTMENT_ONLY),
        body=lambda x: {"org_id": f.dept("440105").pk, "school_year": _school_year()},
        marker=lambda x: _haizhu(),
        shows=("county_a", "province_gd"),
    ),
    Endpoint(
        "attachments",
        "UPLOAD",
        lambda x: f"{CHANGES}/{x.incoming.pk}/attachments",
        # Every unit of the transfer's chain may add evidence (school_a acts, 海珠区 acts later); the
        # province only supervises.
        _expect(registrar_a=201, county_a=201, province_gd=403),
        body=lambda x: {"file": pdf_upload("转学证明.pdf"), "title": "转学证明"},
        marker=lambda x: "转学证明",
        shows=("registrar_a", "county_a"),
    ),
]

CASES = matrix.cases(ENDPOINTS)


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "who"), CASES)
def test_jurisdiction_matrix(changes: Changes, endpoint: Endpoint, who: str) -> None:
    api = changes.api(who)
    if endpoint.keyed:
        response = api.send(endpoint.url(changes), endpoint.body(changes), key=f"matrix-{who}")
    else:
        response = api.call(endpoint.method, endpoint.url(changes), endpoint.body(changes))

    body = matrix.check(
        response,
        who=who,
        expected=endpoint.expect[who],
        marker=endpoint.marker(changes),
        shows=endpoint.shows,
        hidden=(changes.w.student.name,),
    )
    assert changes.w.student.student_number not in body


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["county_a", "province_gd"])
def test_refused_actions_write_nothing(changes: Changes, who: str) -> None:
    api = changes.api(who)

    decided = api.send(
        f"{CHANGES}/{changes.incoming.pk}/decisions", {"position": 1, "action": "approve"}, "k1"
    )
    cancelled = api.post(f"{CHANGES}/{changes.outgoing.pk}/cancel", {"reason": "误操作"})

    assert (decided.status_code, decided.json()["code"]) == (403, "not_your_step")
    assert cancelled.status_code == 403
    assert ApprovalStep.objects.get(request=changes.incoming, position=1).state == "pending"
    assert ChangeRequest.objects.get(pk=changes.outgoing.pk).state == "pending"


# --- a full transfer through the API -------------------------------------------------------------------------


@pytest.mark.django_db
def test_full_cross_county_transfer_through_the_api(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """第15条: 天河区's school receives 海珠区's student found by 学籍号 + 姓名; 天河区, the sending school and
    海珠区 approve from their worklists; the record moves, the 学籍号 stays."""
    monkeypatch.setitem(NATIONAL_DEFAULTS, "transfer_blackout", [])
    c.calendar()
    tianhe = f.user(Role.DEPT_REGISTRAR, f.dept("440106"), username="county_tianhe")
    student = world.student
    number = student.student_number
    receiving = KeyedApi(world.users["registrar_b"])
    bodies: list[str] = []

    submitted = receiving.send(
        f"{CHANGES}/",
        {
            "kind": "transfer",
            "lookup": {"student_number": number, "name": student.name},
            "target_school_id": world.school_b.pk,
            "facts": {"class_name": "2班", "reason_text": "随父母工作调动"},
        },
        key="transfer-1",
    )
    assert submitted.status_code == 201, submitted.content.decode()
    receipt = submitted.json()
    assert (receipt["kind"], receipt["kind_label"], receipt["steps_total"]) == ("transfer", "转学", 4)
    assert receipt["person_id"] == str(student.pk)
    request_id = receipt["id"]
    bodies.append(submitted.content.decode())

    for who, position in ((tianhe, 1), (world.users["registrar_a"], 2), (world.users["county_a"], 3)):
        api = KeyedApi(who)
        listed = api.get(f"{CHANGES}/worklist")
        bodies.append(listed.content.decode())
        [item] = [i for i in listed.json()["items"] if i["request_id"] == request_id]
        assert (item["position"], item["actions"], item["overdue"], item["escalated"]) == (
            position,
            ["approve", "reject", "return"],
            False,
            False,
        )
        assert item["student_name"] == student.name
        assert item["student_number_masked"] not in ("", number)
        decided = api.send(
            f"{CHANGES}/{request_id}/decisions",
            {"position": position, "action": "approve"},
            key=f"d{position}",
        )
        assert decided.status_code == 200, decided.content.decode()
        expected_after = "approved" if position == 3 else "pending"
        assert (decided.json()["step_state"], decided.json()["request_state_after"]) == (
            "approved",
            expected_after,
        )

    detail = receiving.get(f"{CHANGES}/{request_id}")
    bodies.append(detail.content.decode())
    body = detail.json()
    assert body["state"] == "approved"
    assert [(s["party"], s["state"]) for s in body["steps"]] == [
        ("target_school", "approved"),
        ("target_dept", "approved"),
        ("school", "approved"),
        ("school_dept", "approved"),
    ]
    assert body["facts"]["archive_backup"]["person"]["student_number_masked"] != number
    assert body["actions"] == []
    old = Enrollment.objects.get(person=student, school=world.school_a)
    new = Enrollment.objects.get(person=student, is_active=True)
    assert (old.is_active, old.status) == (False, "10")
    assert (new.school_id, new.class_name) == (world.school_b.pk, "2班")
    assert Person.objects.get(pk=student.pk).student_number == number
    timeline = receiving.get(f"{CHANGES}/timeline/{student.pk}")
    bodies.append(timeline.content.decode())
    assert [i["id"] for i in timeline.json()["items"]] == [request_id]
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_APPLIED).count() == 1
    assert all(number not in b for b in bodies)


# --- idempotent submissions (security.md test 3, sequential part) --------------------------------------------


def _submit_body(x: Changes) -> dict[str, Any]:
    return {"kind": "suspension", "enrollment_id": str(x.enrollment(x.fresh).pk), "facts": suspension_facts()}


@pytest.mark.django_db
def test_a_submission_replayed_100_times_has_one_effect_and_identical_responses(changes: Changes) -> None:
    api = changes.api("registrar_a")
    body = _submit_body(changes)
    submitted_before = AuditEvent.objects.filter(event_type=EventType.CHANGE_SUBMITTED).count()

    responses = [api.send(f"{CHANGES}/", body, key="5d3f0c1e-replay") for _ in range(100)]

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert "Idempotent-Replayed" not in responses[0]
    assert all(r["Idempotent-Replayed"] == "true" for r in responses[1:])
    assert ChangeRequest.objects.filter(person=changes.fresh).count() == 1
    assert AuditEvent.objects.filter(event_type=EventType.CHANGE_SUBMITTED).count() == submitted_before + 1
    assert responses[0].json()["id"] == str(ChangeRequest.objects.get(person=changes.fresh).pk)


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_422_and_writes_nothing(changes: Changes) -> None:
    api = changes.api("registrar_a")
    body = _submit_body(changes)
    first = api.send(f"{CHANGES}/", body, key="k-reused")
    other = register(changes.w.school_a, changes.w.users["registrar_a"], name="吴另一")

    changed_note = api.send(f"{CHANGES}/", {**body, "note": "另一个说明"}, key="k-reused")
    other_student = api.send(
        f"{CHANGES}/", {**body, "enrollment_id": str(changes.enrollment(other).pk)}, key="k-reused"
    )

    assert first.status_code == 201
    for response in (changed_note, other_student):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
        assert set(response.json()["fields"]) == {"Idempotency-Key"}
    assert not ChangeRequest.objects.filter(person=other).exists()
    assert ChangeRequest.objects.get(person=changes.fresh).note == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("有中文", "idempotency_key_invalid"),
        ("x" * 60, "idempotency_key_invalid"),
    ],
)
def test_submission_without_a_valid_key_is_400(changes: Changes, key: str | None, code: str) -> None:
    response = changes.api("registrar_a").send(f"{CHANGES}/", _submit_body(changes), key=key)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert set(response.json()["fields"]) == {"Idempotency-Key"}
    assert not ChangeRequest.objects.filter(person=changes.fresh).exists()


@pytest.mark.django_db
def test_keys_are_scoped_by_user(changes: Changes) -> None:
    """Two users with the same key make two requests (security.md: scope each key by client and user)."""
    reg_a, reg_a2 = changes.api("registrar_a"), changes.api("reg_a2")
    theirs = register(changes.school_a2, changes.reg_a2, name="郑二小")

    mine = reg_a.send(f"{CHANGES}/", _submit_body(changes), key="shared-key")
    other = reg_a2.send(
        f"{CHANGES}/",
        {
            "kind": "suspension",
            "enrollment_id": str(changes.enrollment(theirs).pk),
            "facts": suspension_facts(),
        },
        key="shared-key",
    )

    assert (mine.status_code, other.status_code) == (201, 201)
    assert mine.json()["id"] != other.json()["id"]


@pytest.mark.django_db
def test_a_refused_submission_can_be_retried_with_the_same_key(changes: Changes) -> None:
    """Nothing is stored for a refused request, so the key is still free once the body is corrected."""
    api = changes.api("registrar_a")
    body = _submit_body(changes)

    refused = api.send(
        f"{CHANGES}/", {**body, "facts": {**body["facts"], "applicant_name": ""}}, key="retry-1"
    )
    accepted = api.send(f"{CHANGES}/", body, key="retry-1")

    assert (refused.status_code, refused.json()["code"], list(refused.json()["fields"])) == (
        400,
        "required",
        ["applicant_name"],
    )
    assert accepted.status_code == 201


@pytest.mark.django_db
def test_submission_refuses_smuggled_fields(changes: Changes) -> None:
    """security.md test 11: state, steps or the creator cannot be set through the body."""
    api = changes.api("registrar_a")

    response = api.send(f"{CHANGES}/", {**_submit_body(changes), "state": "approved"}, key="mass-1")

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert not ChangeRequest.objects.filter(person=changes.fresh).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("patch", "status", "code", "field"),
    [
        ({"kind": "teleport"}, 400, "unknown_kind", "kind"),
        ({"lookup": {"student_number": "G1", "name": "某"}}, 400, "ambiguous_student", "lookup"),
        ({"household_county_code": "999999"}, 400, "unknown_county", "household_county_code"),
    ],
)
def test_submission_field_errors_name_the_field(
    changes: Changes, patch: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = changes.api("registrar_a").send(f"{CHANGES}/", {**_submit_body(changes), **patch}, key="fe-1")

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert list(response.json()["fields"]) == [field]


@pytest.mark.django_db
def test_lookup_only_for_kinds_started_by_the_receiving_school(changes: Changes) -> None:
    body = {
        "kind": "suspension",
        "lookup": {"student_number": changes.fresh.student_number, "name": "陈提交"},
    }

    response = changes.api("registrar_a").send(f"{CHANGES}/", body, key="lk-1")

    assert (response.status_code, response.json()["code"]) == (400, "lookup_not_allowed")


@pytest.mark.django_db
def test_lookup_needs_number_and_name_to_match(changes: Changes) -> None:
    """第15条: a receiving school finds the record by 学籍号 AND 姓名 — a number alone reveals nothing."""
    body = {
        "kind": "transfer",
        "lookup": {"student_number": changes.w.student.student_number, "name": "王猜测"},
        "target_school_id": changes.w.school_b.pk,
        "facts": {"class_name": "1班"},
    }

    response = changes.api("registrar_b").send(f"{CHANGES}/", body, key="lk-2")

    assert response.status_code == 404
    assert changes.w.student.name not in response.content.decode()


# --- decisions -----------------------------------------------------------------------------------------------


def _decide(x: Changes, who: str, body: dict[str, Any], key: str | None = "d-1", request: Any = None) -> Any:
    req = request or x.incoming
    return x.api(who).send(f"{CHANGES}/{req.pk}/decisions", body, key=key)


def _decided_events(req: ChangeRequest) -> int:
    return sum(
        1
        for e in AuditEvent.objects.filter(event_type=EventType.CHANGE_DECIDED)
        if (e.after or {}).get("request") == str(req.pk)
    )


@pytest.mark.django_db
def test_a_decision_replayed_has_one_effect_and_identical_responses(changes: Changes) -> None:
    body = {"position": 1, "action": "approve", "comment": "同意转出"}

    responses = [_decide(changes, "registrar_a", body, key="approve-1") for _ in range(5)]
    responses.append(
        _decide(changes, "registrar_a", body, key="approve-2")
    )  # natural key: (request, position)

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert responses[0].json() == {
        "request_id": str(changes.incoming.pk),
        "position": 1,
        "action": "approve",
        "step_state": "approved",
        "step_state_label": "已同意",
        "request_state_after": "pending",
        "decided_at": responses[0].json()["decided_at"],
        "comment": "同意转出",
    }
    assert _decided_events(changes.incoming) == 1
    req = ChangeRequest.objects.get(pk=changes.incoming.pk)
    assert (req.state, req.current_position) == ("pending", 2)
    county = f.dept("440105")
    assert Notification.objects.filter(org_unit=county, request=req).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "second",
    [
        {"position": 1, "action": "return", "comment": "请补充材料"},
        {"position": 1, "action": "approve", "comment": "另一意见"},
    ],
)
def test_the_same_decision_with_a_different_body_is_422(changes: Changes, second: dict[str, Any]) -> None:
    first = _decide(changes, "registrar_a", {"position": 1, "action": "approve", "comment": "同意"}, key="dk")

    again = _decide(changes, "registrar_a", second, key="dk")

    assert first.status_code == 200
    assert (again.status_code, again.json()["code"]) == (422, "idempotency_key_reused")
    step = ApprovalStep.objects.get(request=changes.incoming, position=1)
    assert (step.state, step.comment) == ("approved", "同意")
    assert _decided_events(changes.incoming) == 1


@pytest.mark.django_db
def test_a_step_decided_by_a_colleague_is_409(changes: Changes) -> None:
    colleague = KeyedApi(f.registrar(changes.w.school_a, username="reg_a_bis"))
    _decide(changes, "registrar_a", {"position": 1, "action": "approve"}, key="c1")

    late = colleague.send(
        f"{CHANGES}/{changes.incoming.pk}/decisions",
        {"position": 1, "action": "reject", "comment": "不同意"},
        key="c2",
    )

    assert (late.status_code, late.json()["code"]) == (409, "step_already_decided")
    assert ApprovalStep.objects.get(request=changes.incoming, position=1).state == "approved"


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["reject", "return"])
def test_reject_and_return_need_a_comment(changes: Changes, action: str) -> None:
    response = _decide(changes, "registrar_a", {"position": 1, "action": action, "comment": "  "})

    assert response.status_code == 400
    assert response.json()["code"] == "required"
    assert list(response.json()["fields"]) == ["comment"]
    assert ApprovalStep.objects.get(request=changes.incoming, position=1).state == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, ""])
def test_decision_without_a_key_is_400(changes: Changes, key: str | None) -> None:
    response = _decide(changes, "registrar_a", {"position": 1, "action": "approve"}, key=key)

    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")
    assert ApprovalStep.objects.get(request=changes.incoming, position=1).state == "pending"


@pytest.mark.django_db
def test_deciding_a_step_that_has_not_started_is_409(changes: Changes) -> None:
    response = _decide(changes, "county_a", {"position": 2, "action": "approve"})

    assert (response.status_code, response.json()["code"]) == (409, "step_already_decided")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"position": 1, "action": "approve", "decided_by": 1},
        {"position": 1, "action": "apply"},
        {"action": "approve"},
    ],
)
def test_decision_body_is_closed(changes: Changes, body: dict[str, Any]) -> None:
    response = _decide(changes, "registrar_a", body)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert ApprovalStep.objects.get(request=changes.incoming, position=1).state == "pending"


@pytest.mark.django_db
def test_reject_closes_the_request_and_leaves_the_record(changes: Changes) -> None:
    before = Enrollment.objects.filter(person=changes.w.student).values().get()

    response = _decide(changes, "registrar_a", {"position": 1, "action": "reject", "comment": "学生仍在本校"})

    assert (response.status_code, response.json()["request_state_after"]) == (200, "rejected")
    assert ChangeRequest.objects.get(pk=changes.incoming.pk).state == "rejected"
    assert Enrollment.objects.filter(person=changes.w.student).values().get() == before


@pytest.mark.django_db
def test_return_resubmit_and_approve(changes: Changes) -> None:
    returned = _decide(changes, "registrar_a", {"position": 1, "action": "return", "comment": "请补充证明"})
    initiator = changes.api("reg_a2")
    detail = initiator.get(f"{CHANGES}/{changes.incoming.pk}").json()

    resubmitted = initiator.post(f"{CHANGES}/{changes.incoming.pk}/resubmit", {"comment": "已补充"})
    approved = _decide(changes, "registrar_a", {"position": 1, "action": "approve"}, key="after-resubmit")

    assert returned.json()["request_state_after"] == "returned"
    assert (detail["state"], detail["actions"]) == ("returned", ["resubmit", "cancel"])
    assert (resubmitted.status_code, resubmitted.json()["state"]) == (200, "pending")
    assert approved.json()["step_state"] == "approved"


@pytest.mark.django_db
def test_cancel_needs_a_reason(changes: Changes) -> None:
    response = changes.api("registrar_a").post(f"{CHANGES}/{changes.outgoing.pk}/cancel", {"reason": ""})

    assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (
        400,
        "required",
        ["reason"],
    )
    assert ChangeRequest.objects.get(pk=changes.outgoing.pk).state == "pending"


@pytest.mark.django_db
def test_detail_lists_what_the_caller_may_do(changes: Changes) -> None:
    acting = changes.api("registrar_a").get(f"{CHANGES}/{changes.incoming.pk}").json()
    initiating = changes.api("reg_a2").get(f"{CHANGES}/{changes.incoming.pk}").json()
    supervising = changes.api("province_gd").get(f"{CHANGES}/{changes.incoming.pk}").json()

    assert acting["actions"] == ["approve", "reject", "return"]
    assert initiating["actions"] == ["cancel"]
    assert supervising["actions"] == []
    assert [s["state"] for s in acting["steps"]] == ["approved", "pending", "waiting"]


# --- worklists, notifications, timeline ----------------------------------------------------------------------


@pytest.mark.django_db
def test_worklist_item_is_one_click_away_from_a_decision(changes: Changes) -> None:
    api = changes.api("registrar_a")
    [item] = api.get(f"{CHANGES}/worklist").json()["items"]

    decided = api.send(
        f"{CHANGES}/{item['request_id']}/decisions",
        {"position": item["position"], "action": item["actions"][0]},
        key="one-click",
    )

    assert (item["kind"], item["party"], item["org_unit_id"]) == ("transfer", "school", changes.w.school_a.pk)
    assert isinstance(item["days_left"], int) and item["due_on"] is not None
    assert decided.status_code == 200
    after = api.get(f"{CHANGES}/worklist").json()
    assert (after["items"], after["count"]) == ([], 0)


@pytest.mark.django_db
def test_worklist_filters_by_kind(changes: Changes) -> None:
    api = changes.api("county_a")

    suspensions = api.get(f"{CHANGES}/worklist", {"kind": "suspension"}).json()
    transfers = api.get(f"{CHANGES}/worklist", {"kind": "transfer"}).json()

    assert [i["request_id"] for i in suspensions["items"]] == [str(changes.outgoing.pk)]
    assert transfers["count"] == 0


@pytest.mark.django_db
def test_notifications_are_marked_read_per_user(changes: Changes) -> None:
    api = changes.api("registrar_a")
    colleague = KeyedApi(f.registrar(changes.w.school_a, username="reg_a_ter"))
    unread = api.get(f"{CHANGES}/notifications").json()

    marked = api.post(f"{CHANGES}/notifications/read", {"ids": [n["id"] for n in unread["items"]]}).json()

    assert marked == {"marked": unread["count"]}
    assert api.get(f"{CHANGES}/notifications").json()["count"] == 0
    everything = api.get(f"{CHANGES}/notifications", {"unread_only": "false"}).json()
    assert {n["read"] for n in everything["items"]} == {True}
    assert colleague.get(f"{CHANGES}/notifications").json()["count"] == unread["count"]


@pytest.mark.django_db
def test_list_filters_and_pages(changes: Changes) -> None:
    api = changes.api("registrar_a")

    suspensions = api.get(f"{CHANGES}/", {"kind": "suspension"}).json()
    returned = api.get(f"{CHANGES}/", {"state": "returned"}).json()
    mine = api.get(f"{CHANGES}/", {"initiated": "true"}).json()
    page = api.get(f"{CHANGES}/", {"page_size": 1, "page": 2}).json()

    assert suspensions["count"] == 2
    assert [i["id"] for i in returned["items"]] == [str(changes.returned.pk)]
    assert {i["id"] for i in mine["items"]} == {str(changes.outgoing.pk), str(changes.returned.pk)}
    assert (page["count"], len(page["items"]), page["page"]) == (3, 1, 2)


@pytest.mark.django_db
def test_timeline_of_a_student_without_requests_is_empty(changes: Changes) -> None:
    response = changes.api("registrar_a").get(f"{CHANGES}/timeline/{changes.fresh.pk}")

    assert response.status_code == 200
    assert response.json() == {"person_id": str(changes.fresh.pk), "items": []}


@pytest.mark.django_db
def test_timeline_shows_steps_with_deciders(changes: Changes) -> None:
    [item] = changes.api("county_a").get(f"{CHANGES}/timeline/{changes.returned.person_id}").json()["items"]

    assert item["state"] == "returned"
    assert [(s["position"], s["state"], s["comment"]) for s in item["steps"]] == [
        (0, "approved", "发起申请"),
        (1, "returned", "请补充诊断证明"),
    ]
    assert item["steps"][1]["decided_by"] == "county_haizhu"


# --- cohorts and masking -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_graduation_cohort_through_the_api(changes: Changes) -> None:
    """第19条: 义务教育 graduation is the school's own act — one request per student, applied at once."""
    graduate = c.enrolled(changes.w.school_a, grade=6, name="冯毕业")

    response = changes.api("registrar_a").post(
        f"{CHANGES}/cohorts/graduation", {"school_id": changes.w.school_a.pk, "grade": 6}
    )

    assert response.status_code == 200, response.content.decode()
    assert (response.json()["submitted_count"], response.json()["skipped"]) == (1, [])
    e = Enrollment.objects.get(pk=graduate.pk)
    assert (e.status, e.is_active) == ("07", False)


@pytest.mark.django_db
def test_graduation_cohort_refuses_a_non_graduating_grade(changes: Changes) -> None:
    response = changes.api("registrar_a").post(
        f"{CHANGES}/cohorts/graduation", {"school_id": changes.w.school_a.pk, "grade": 3}
    )

    assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (
        400,
        "not_graduating_grade",
        ["grade"],
    )


@pytest.mark.django_db
def test_detail_masks_identity_numbers_in_facts(world: World) -> None:
    """A deferral (第11条) keeps the child's identity number in its facts; the API shows it masked and never
    the hash derived from it."""
    c.calendar()
    county = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="county_deferral")
    today = timezone.localdate()
    year = today.year + 1
    birth = today.replace(year=year - 6, month=3, day=1)
    number = f.resident_id(birth=birth, seq=77, gender="2")
    api = KeyedApi(county)

    submitted = api.send(
        f"{CHANGES}/",
        {
            "kind": "deferral",
            "household_county_code": "440105",
            "facts": {
                "name": "林缓学",
                "gender": "2",
                "birth_date": birth.isoformat(),
                "id_type": "1",
                "id_number": number,
                "household_code": "440105",
                "school_year": year,
                "applicant_name": "林家长",
                "reason_text": "身体原因",
                "evidence": "医院诊断证明",
            },
        },
        key="deferral-1",
    )
    assert submitted.status_code == 201, submitted.content.decode()
    detail = api.get(f"{CHANGES}/{submitted.json()['id']}")

    text = detail.content.decode()
    assert number not in text
    facts = detail.json()["facts"]
    assert facts["id_number_masked"] != "" and "id_number" not in facts and "child_key" not in facts
    assert detail.json()["student_name"] == "林缓学"
