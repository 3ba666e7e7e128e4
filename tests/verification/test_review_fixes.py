"""Fixes from the review of the verification (第25条; 第22条 teaching points):

- the progress of a school unit (a central school above its teaching points) groups only the returns below it
  and shows its own return apart — PostgreSQL refuses the negative substring length the own return gave
  (run these on PostgreSQL too: DATABASE_URL=postgres://…);
- a central school's registrar fills in its teaching points' returns: they are listed, the round page lists
  them, and the open / returned / accepted notices reach the central school as well;
- the audit of the verification keeps its non-personal facts (deadline, counts, ids) instead of ``***``;
- opening a round never holds every school's return and notice in memory at once;
- the roster's back link is the page's own path; the unexplained-problems refusal keeps ``fields`` a field →
  message mapping; the finding errors name the 情况说明 field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.models import Notification
from xueji.core.errors import Conflict, FieldError
from xueji.students.models import ProblemRecord
from xueji.verification import services
from xueji.verification.enums import FindingKind, Whereabouts
from xueji.verification.models import SchoolReturn
from xueji.verification.queries import my_returns, progress
from xueji.verification.services import (
    finding_save,
    return_accept,
    return_send_back,
    return_submit,
    round_open,
)

pytestmark = pytest.mark.django_db


def _ret(rnd, school) -> SchoolReturn:  # type: ignore[no-untyped-def]
    return SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer").get(
        round=rnd, school=school
    )


def _login(user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def point(v):  # type: ignore[no-untyped-def]
    """A teaching point managed by 海珠一小 (第22条); it exists before the round is opened."""
    return f.school("440105", "teaching_point", name="海珠教学点", central_school=v["school"])


@pytest.fixture
def prnd(v, point, today):  # type: ignore[no-untyped-def]
    return round_open(
        actor=v["province"], unit=f.dept("440000"), title="秋季核查", school_year=2026, semester="1",
        deadline=today + timedelta(days=14),
    )  # fmt: skip


def _open_notices(org_id: int, rnd: Any) -> list[Notification]:
    return list(Notification.objects.filter(org_unit_id=org_id, notice="verify_open", params__round=rnd.pk))


# ------------------------------------------------------------------------------------------------- progress


@pytest.mark.postgres
@pytest.mark.parametrize("late", [False, True])
def test_progress_of_a_central_school_shows_its_own_return_apart(v, point, prnd, late):  # type: ignore[no-untyped-def]
    """Item 1: the unit's own return is not grouped (SUBSTRING('',1,-1) fails on PostgreSQL) but counted."""
    return_submit(actor=v["reg"], ret=_ret(prnd, point))
    when = prnd.deadline + timedelta(days=1) if late else prnd.deadline
    table = progress(rnd=prnd, unit=v["school"].org, today=when)
    assert [r.unit_id for r in table.rows] == [point.pk]  # the teaching point only
    assert (table.rows[0].total, table.rows[0].submitted, table.rows[0].overdue) == (1, 1, 0)
    assert table.own is not None and table.own.unit_id == v["school"].pk
    assert (table.own.total, table.own.draft, table.own.overdue) == (1, 1, 1 if late else 0)
    assert (table.totals.total, table.totals.submitted, table.totals.draft) == (2, 1, 1)
    # A county's children are schools: the teaching point counts under its central school, nothing is "own".
    county = progress(rnd=prnd, unit=f.dept("440105"), today=when)
    assert county.own is None
    assert {r.unit_id: r.total for r in county.rows} == {v["school"].pk: 2, v["sibling"].pk: 1}


@pytest.mark.postgres
def test_progress_api_for_a_school_unit(v, point, prnd):  # type: ignore[no-untyped-def]
    client = _login(v["haizhu"])
    response = client.get(f"/api/v1/verification/rounds/{prnd.pk}/progress", {"unit": v["school"].pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totals"]["total"] == 2 and [r["unit_id"] for r in body["rows"]] == [point.pk]


# ------------------------------------------------------------------------------------ teaching points (第22条)


def test_central_school_registrar_lists_and_fills_in_its_teaching_points_return(v, point, prnd):  # type: ignore[no-untyped-def]
    assert {r.school_id for r in my_returns(viewer=v["reg"]).filter(round=prnd)} == {v["school"].pk, point.pk}
    assert not my_returns(viewer=v["reg_sibling"]).filter(school=point).exists()
    page = _login(v["reg"]).get(reverse("verification:index")).content.decode()
    assert reverse("verification:return", args=[prnd.pk, point.pk]) in page
    # The round page lists both returns instead of sending the registrar to one of them.
    response = _login(v["reg"]).get(reverse("verification:round", args=[prnd.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "海珠教学点" in body and reverse("verification:return", args=[prnd.pk, v["school"].pk]) in body
    # A registrar of one school only is still sent straight to its return.
    response = _login(v["reg_sibling"]).get(reverse("verification:round", args=[prnd.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("verification:return", args=[prnd.pk, v["sibling"].pk])
    pupil = c.enrolled(point, grade=1, name="山里娃")
    finding_save(actor=v["reg"], ret=_ret(prnd, point), enrollment_id=pupil.pk, kind=FindingKind.ABSENT,
                 whereabouts=Whereabouts.NOT_IN_SCHOOL, detail="随父母外出")  # fmt: skip
    assert return_submit(actor=v["reg"], ret=_ret(prnd, point)).state == "submitted"


def test_teaching_point_notices_reach_the_central_school(v, point, prnd):  # type: ignore[no-untyped-def]
    own = _open_notices(v["school"].pk, prnd)
    assert len(own) == 2  # its own and the copy for its teaching point
    copy = next(n for n in own if n.params.get("school") == point.pk)
    assert "海珠教学点" in copy.message and copy.needs_action
    assert len(_open_notices(point.pk, prnd)) == 1
    # Submitting the teaching point finishes its notices (both copies), not the central school's own.
    return_submit(actor=v["reg"], ret=_ret(prnd, point))
    done = {n.params.get("school"): n.done_at is not None for n in _open_notices(v["school"].pk, prnd)}
    assert done == {point.pk: True, None: False}
    assert all(n.done_at for n in _open_notices(point.pk, prnd))
    # Returned and accepted notices go to the central school too.
    return_send_back(actor=v["haizhu"], ret=_ret(prnd, point), note="请补充去向")
    returned = Notification.objects.filter(org_unit_id=v["school"].pk, notice="verify_returned")
    assert returned.count() == 1 and "海珠教学点" in returned.get().message and returned.get().needs_action
    return_submit(actor=v["reg"], ret=_ret(prnd, point))
    assert returned.get().done_at is not None  # resubmitting finishes the returned notice at the centre too
    return_accept(actor=v["haizhu"], ret=_ret(prnd, point))
    accepted = Notification.objects.filter(org_unit_id=v["school"].pk, notice="verify_accepted")
    assert accepted.count() == 1 and "海珠教学点" in accepted.get().message
    # The central school submitting its own return leaves nothing of the teaching point's open.
    return_submit(actor=v["reg"], ret=_ret(prnd, v["school"]))
    assert all(n.done_at for n in _open_notices(v["school"].pk, prnd))


# ---------------------------------------------------------------------------------------------------- audit


def test_audit_keeps_the_verification_facts(v, rnd):  # type: ignore[no-untyped-def]
    opened = AuditEvent.objects.get(event_type="verification.round_opened", subject_id=str(rnd.pk))
    assert opened.after == {"deadline": rnd.deadline.isoformat(), "schools": 3, "semester": "1"}
    ret = _ret(rnd, v["school"])
    finding_save(actor=v["reg"], ret=ret, enrollment_id=v["pupil"].pk, kind=FindingKind.ABSENT,
                 whereabouts=Whereabouts.NOT_IN_SCHOOL, detail="开学以来未到校")  # fmt: skip
    saved = AuditEvent.objects.get(event_type="verification.finding_saved")
    assert saved.after == {"return_id": ret.pk, "round_id": rnd.pk, "kind": "absent", "created": True}
    assert "开学以来未到校" not in str(saved.after) and "林小雨" not in saved.summary
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    submitted = AuditEvent.objects.get(event_type="verification.submitted")
    assert submitted.after == {"state": "submitted", "roster_count": 2, "findings": 1}


# ------------------------------------------------------------------------------------------- opening in chunks


def test_opening_never_holds_every_school_in_memory(v, today, monkeypatch):  # type: ignore[no-untyped-def]
    """Item 5: returns and notices are written ``BATCH`` schools at a time, in one transaction."""
    point = f.school("440105", "teaching_point", central_school=v["school"])
    for _ in range(4):
        f.school("440106", "primary")
    monkeypatch.setattr(services, "BATCH", 2)
    sizes: dict[str, list[int]] = {"returns": [], "notices": []}
    for model, key in ((SchoolReturn, "returns"), (Notification, "notices")):
        original = model.objects.bulk_create

        def spy(objs, *args, _original=original, _key=key, **kwargs):  # type: ignore[no-untyped-def]
            objs = list(objs)
            sizes[_key].append(len(objs))
            return _original(objs, *args, **kwargs)

        monkeypatch.setattr(model.objects, "bulk_create", spy)
    rnd = round_open(actor=v["province"], unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
                     deadline=today + timedelta(days=3))  # fmt: skip
    assert SchoolReturn.objects.filter(round=rnd).count() == 8  # 3 + the point + 4
    assert Notification.objects.filter(notice="verify_open", params__round=rnd.pk).count() == 9  # + 1 copy
    assert sizes["returns"] == [2, 2, 2, 2]
    assert max(sizes["notices"]) <= 4 and sum(sizes["notices"]) == 9  # ≤ 2 schools' notices per INSERT
    assert SchoolReturn.objects.filter(round=rnd, school=point).exists()
    after = AuditEvent.objects.get(event_type="verification.round_opened").after
    assert after is not None and after["schools"] == 8


def test_opening_is_all_or_nothing(v, today, monkeypatch):  # type: ignore[no-untyped-def]
    for _ in range(3):
        f.school("440106", "primary")
    monkeypatch.setattr(services, "BATCH", 2)
    calls = {"n": 0}
    original = Notification.objects.bulk_create

    def failing(objs, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(Notification.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        round_open(actor=v["province"], unit=f.dept("440000"), title="核查", school_year=2026, semester="1",
                   deadline=today + timedelta(days=3))  # fmt: skip
    assert (
        not SchoolReturn.objects.exists() and not Notification.objects.filter(notice="verify_open").exists()
    )


# --------------------------------------------------------------------------------------------------- lesser


def test_roster_back_link_is_the_pages_own_path(v, rnd):  # type: ignore[no-untyped-def]
    url = reverse("verification:return", args=[rnd.pk, v["school"].pk])
    response = _login(v["reg"]).get(
        url,
        {"q": "林"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="roster",
        HTTP_HX_CURRENT_URL=f"http://testserver{url}",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="next" value="http' not in body and "next=http" not in body
    mark = reverse("verification:mark", args=[rnd.pk, v["school"].pk, v["pupil"].pk])
    assert f"{mark}?next={url}%3Fq%3D" in body  # the page's own path and search, not an absolute URL


def test_unexplained_problems_refusal_keeps_fields_for_fields(v, rnd):  # type: ignore[no-untyped-def]
    for pupil in (v["pupil"], v["pupil2"]):
        ProblemRecord.objects.create(kind=ProblemRecord.Kind.ID_INVALID, person_id=pupil.person_id,
                                     province_code="440000", scope_path=v["school"].org.path)  # fmt: skip
    with pytest.raises(Conflict) as exc:
        return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    assert exc.value.code == "problems_unexplained" and exc.value.fields == {}
    assert getattr(exc.value, "count", None) == 2 and "2" in exc.value.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "absent", "whereabouts": "unknown", "detail": ""},
        {"kind": "correction", "correction_fields": ["other"], "detail": ""},
    ],
)
def test_finding_errors_name_the_detail_field(v, rnd, kwargs):  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as exc:
        finding_save(actor=v["reg"], ret=_ret(rnd, v["school"]), enrollment_id=v["pupil"].pk, **kwargs)
    assert exc.value.field == "detail" and "情况说明" in exc.value.message
