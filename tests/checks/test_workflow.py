"""The handling of a problem record (第9、25条): who may explain, correct, return, escalate, resolve and reopen,
the history it leaves, and the queues of school, county, city and province — scoped, out of scope = 404."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.audit.models import AuditEvent
from xueji.checks.queries import QueueFilters, problem_queue, unexplained_open_problems
from xueji.checks.services import run_checks
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.students.models import Enrollment, ProblemEvent, ProblemRecord
from xueji.students.records import PROBLEM_TRANSITIONS, problem_act

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 4)
Action = ProblemEvent.Action
Owner = ProblemRecord.Owner


@pytest.fixture
def world(school_a, registrar_a):  # type: ignore[no-untyped-def]
    c.calendar()
    late = c.enrolled(school_a)
    Enrollment.objects.filter(pk=late.pk).update(archive_due=TODAY - timedelta(days=5))
    run_checks(actor=None, today=TODAY, provinces=["440000"], rules=["archive_overdue"])
    problem = ProblemRecord.objects.get(person_id=late.person_id)
    return {
        "problem": problem,
        "school": registrar_a,
        "county": f.user(Role.DEPT_REGISTRAR, f.dept("440105")),
        "city": f.user(Role.DEPT_REGISTRAR, f.dept("440100")),
        "province": f.user(Role.DEPT_REGISTRAR, f.dept("440000")),
        "other_county": f.user(Role.DEPT_REGISTRAR, f.dept("440106")),
        "other_school": f.registrar(f.school("440106")),
    }


def act(w: dict, who: str, action: str, note: str = "说明", outcome: str = "") -> ProblemRecord:
    problem = ProblemRecord.objects.get(pk=w["problem"].pk)
    return problem_act(actor=w[who], problem=problem, action=action, note=note, outcome=outcome)


def test_transition_table_is_exhaustive_over_pairs():
    """Every (action, owner) pair is either listed with a level that exists, or refused."""
    for (action, owner), after in PROBLEM_TRANSITIONS.items():
        assert action in Action.values and owner in Owner.values and after in Owner.values
    assert (Action.CORRECT, Owner.COUNTY) not in PROBLEM_TRANSITIONS
    assert (Action.ESCALATE, Owner.PROVINCE) not in PROBLEM_TRANSITIONS
    assert (Action.RETURN, Owner.SCHOOL) not in PROBLEM_TRANSITIONS


def test_school_explains_then_corrects_county_returns_escalates_city_resolves(world):
    """第9条: the school explains (the record leaves the verification blocker list, 第25条) and corrects; the
    county returns it, then escalates; the city resolves. Each step is one history row and one audit event."""
    w = world
    school = w["problem"].school
    assert list(unexplained_open_problems(school)) == [w["problem"]]
    explained = act(w, "school", Action.EXPLAIN, "档案材料已收齐，正在扫描")
    assert explained.explanation == "档案材料已收齐，正在扫描" and explained.explained_by == w["school"]
    assert not unexplained_open_problems(school).exists()

    assert act(w, "school", Action.CORRECT, "已上传材料").owner == Owner.COUNTY
    with pytest.raises(Forbidden):
        act(w, "school", Action.CORRECT)  # the county has it now
    assert act(w, "county", Action.RETURN, "材料不全").owner == Owner.SCHOOL
    assert act(w, "county", Action.ESCALATE, "学校拒不建立档案").owner == Owner.CITY
    with pytest.raises(Forbidden):
        act(w, "county", Action.RESOLVE, outcome="resolved")  # escalated: the city's now
    done = act(w, "city", Action.RESOLVE, "责令改正，已建立", outcome="resolved")
    assert (done.state, done.resolved_by, done.resolution_note) == ("resolved", w["city"], "责令改正，已建立")
    with pytest.raises(ApplicationError, match="已处理"):
        act(w, "school", Action.EXPLAIN)

    history = list(
        ProblemEvent.objects.filter(problem=done).order_by("at", "pk").values_list("action", "owner_after")
    )
    assert history == [
        ("open", "school"),
        ("explain", "school"),
        ("correct", "county"),
        ("return", "school"),
        ("escalate", "city"),
        ("resolve", "city"),
    ]
    events = AuditEvent.objects.filter(subject_id=str(done.person_id), event_type__startswith="problem.")
    assert events.count() == 5
    assert all(done.person.name not in (e.summary + str(e.after)) for e in events)


def test_reopen_by_department_only_and_never_twice_open(world, school_a):
    w = world
    act(w, "county", Action.RESOLVE, "已建立", outcome="resolved")
    with pytest.raises(Forbidden):
        act(w, "school", Action.REOPEN)
    run_checks(actor=None, today=TODAY, provinces=["440000"], rules=["archive_overdue"])  # still overdue
    with pytest.raises(Conflict):
        act(w, "county", Action.REOPEN, "复查未建立")  # a new open record of the same reason exists
    ProblemRecord.objects.filter(state="open").delete()
    reopened = act(w, "county", Action.REOPEN, "复查未建立")
    assert (reopened.state, reopened.owner, reopened.resolved_at) == ("open", "school", None)


@pytest.mark.parametrize("who", ["other_county", "other_school"])
def test_out_of_jurisdiction_is_not_found_and_writes_nothing(world, who):
    before = ProblemEvent.objects.count()
    for action in (Action.EXPLAIN, Action.RESOLVE, Action.ESCALATE, Action.RETURN, Action.REOPEN):
        with pytest.raises(NotFound):
            act(world, who, action, outcome="resolved")
    assert ProblemEvent.objects.count() == before
    assert ProblemRecord.objects.get(pk=world["problem"].pk).explanation == ""


def test_note_and_outcome_are_required(world):
    with pytest.raises(FieldError) as exc:
        act(world, "school", Action.EXPLAIN, "  ")
    assert exc.value.fields == {"note": "请填写说明"}
    with pytest.raises(FieldError):
        act(world, "county", Action.RESOLVE, "x", outcome="merged-ish")


def test_queues_by_level(world):
    """School: its own records; county: its schools'; city/province: escalated ones (``everything`` to read)."""
    w = world
    q = lambda who, **kw: list(problem_queue(viewer=w[who], filters=QueueFilters(**kw), today=TODAY))  # noqa: E731
    assert q("school") == q("county") == [w["problem"]]
    assert q("other_county") == q("other_school") == []
    assert q("city") == q("province") == []
    assert q("city", everything=True) == [w["problem"]]
    act(w, "county", Action.ESCALATE, "上报")
    assert q("city") == q("province") == [w["problem"]]
    assert q("county", overdue=True) == []  # its deadline (10 working days) has not passed on TODAY
    ProblemRecord.objects.filter(pk=w["problem"].pk).update(due_on=date(2020, 1, 1))
    assert q("county", overdue=True) == [w["problem"]]


# ------------------------------------------------------------------------------------------- pages & API
def test_pages_scope_and_redirect(client, world):
    w = world
    pk = w["problem"].pk
    client.force_login(w["other_county"])
    assert client.get(reverse("checks:problem", args=[pk])).status_code == 404
    r = client.post(reverse("checks:act", args=[pk, "resolve"]), {"note": "x", "outcome": "resolved"})
    assert r.status_code == 404 and ProblemRecord.objects.get(pk=pk).state == "open"
    assert str(pk) not in client.get(reverse("checks:queue")).content.decode()

    client.force_login(w["county"])
    assert client.get(reverse("students:problems")).url == reverse("checks:queue")
    body = client.get(reverse("checks:queue")).content.decode()
    assert reverse("checks:problem", args=[pk]) in body
    page = client.get(reverse("checks:problem", args=[pk])).content.decode()
    assert 'data-testid="act-resolve"' in page and 'data-testid="act-explain"' not in page
    r = client.post(reverse("checks:act", args=[pk, "escalate"]), {"note": "上报市级"})
    assert r.status_code == 302 and ProblemRecord.objects.get(pk=pk).owner == "city"

    client.force_login(w["school"])
    page = client.get(reverse("checks:problem", args=[pk])).content.decode()
    assert 'data-testid="act-explain"' in page and 'data-testid="act-resolve"' not in page
    assert r"#archive" in page  # the correction link of an overdue archive: the record's archive section
    r = client.post(reverse("checks:act", args=[pk, "resolve"]), {"note": "x", "outcome": "resolved"})
    assert r.status_code == 403


def test_api_list_detail_and_actions_scoped(client, world):
    w = world
    pk = w["problem"].pk
    client.force_login(w["school"])
    listed = client.get("/api/v1/checks/problems").json()
    assert [i["id"] for i in listed["items"]] == [str(pk)]
    assert listed["items"][0]["article"] == "第六条" and listed["items"][0]["owner"] == "school"
    r = client.post(
        f"/api/v1/checks/problems/{pk}/explain", {"note": "正在补办"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["explanation"] == "正在补办"
    assert [e["action"] for e in r.json()["events"]] == ["open", "explain"]
    r = client.post(
        f"/api/v1/checks/problems/{pk}/resolve",
        {"note": "x", "outcome": "resolved"},
        content_type="application/json",
    )
    assert r.status_code == 403

    client.force_login(w["other_county"])
    assert client.get(f"/api/v1/checks/problems/{pk}").status_code == 404
    for action in ("explain", "escalate", "return", "reopen", "correct"):
        r = client.post(
            f"/api/v1/checks/problems/{pk}/{action}", {"note": "x"}, content_type="application/json"
        )
        assert r.status_code == 404
    assert ProblemEvent.objects.filter(problem_id=pk).count() == 2

    client.force_login(w["county"])
    assert client.get("/api/v1/checks/problems?kind=nope").status_code == 400
    r = client.post(
        f"/api/v1/checks/problems/{pk}/escalate", {"note": "上报"}, content_type="application/json"
    )
    assert r.json()["owner"] == "city" and r.json()["escalated"] is True
    client.force_login(w["city"])
    assert [i["id"] for i in client.get("/api/v1/checks/problems").json()["items"]] == [str(pk)]
    assert client.get("/api/v1/checks/rules/440000").json()["rules"]["archive_overdue"]["grace_days"] == 0
    assert client.get("/api/v1/checks/rules/110000").status_code == 404
