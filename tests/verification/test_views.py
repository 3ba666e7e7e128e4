"""Pages of the verification (第25条): every page as anonymous, wrong role, out of jurisdiction (404, nothing
written) and allowed; the roster search (htmx fragment), marking, the blocked submit with its link to the problem
queue, the county's queue and decision, the progress drill-down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import core as f
from xueji.students.models import ProblemRecord
from xueji.verification.enums import ReturnState, RoundState
from xueji.verification.models import Finding, SchoolReturn, VerificationRound
from xueji.verification.services import return_submit

pytestmark = pytest.mark.django_db


def _login(user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _ret(rnd, school):  # type: ignore[no-untyped-def]
    return SchoolReturn.objects.select_related("round", "school", "school__org", "reviewer").get(
        round=rnd, school=school
    )


def _return_url(rnd, school) -> str:  # type: ignore[no-untyped-def]
    return reverse("verification:return", args=[rnd.pk, school.pk])


def test_anonymous_is_sent_to_login(v, rnd):  # type: ignore[no-untyped-def]
    for url in (reverse("verification:index"), reverse("verification:round", args=[rnd.pk])):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_admin_roles_see_no_pages(v, rnd):  # type: ignore[no-untyped-def]
    client = _login(v["audit"])
    assert client.get(reverse("verification:index")).status_code == 404
    assert client.get(_return_url(rnd, v["school"])).status_code == 404


def test_index_lists_the_schools_task_and_the_departments_rounds(v, rnd):  # type: ignore[no-untyped-def]
    page = _login(v["reg"]).get(reverse("verification:index")).content.decode()
    assert "本校核查任务" in page and _return_url(rnd, v["school"]) in page
    page = _login(v["province"]).get(reverse("verification:index")).content.decode()
    assert rnd.title in page and reverse("verification:open") in page
    page = _login(v["haizhu"]).get(reverse("verification:index")).content.decode()
    assert reverse("verification:review", args=[rnd.pk]) in page
    assert reverse("verification:open") not in page


def test_open_page_only_for_province_and_national(v, today):  # type: ignore[no-untyped-def]
    assert _login(v["haizhu"]).get(reverse("verification:open")).status_code == 404
    client = _login(v["province"])
    data = {"unit": f.dept("440000").pk, "title": "秋季学期核查", "school_year": "2026", "semester": "1",
            "deadline": today.isoformat()}  # fmt: skip
    response = client.post(reverse("verification:open"), data)
    assert response.status_code == 400 and "截止日期须晚于今天" in response.content.decode()
    assert not VerificationRound.objects.exists()
    data["deadline"] = (today + timedelta(days=10)).isoformat()
    response = client.post(reverse("verification:open"), data)
    rnd = VerificationRound.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "verification:round", args=[rnd.pk]
    )
    # Another province's unit id posted by hand is not a choice: refused, nothing created.
    response = client.post(reverse("verification:open"), {**data, "unit": f.dept("110000").pk})
    assert response.status_code == 400 and VerificationRound.objects.count() == 1


def test_return_page_is_404_out_of_jurisdiction(v, rnd):  # type: ignore[no-untyped-def]
    url = _return_url(rnd, v["school"])
    for who in ("reg_other", "reg_sibling", "tianhe", "bj_province"):
        assert _login(v[who]).get(url).status_code == 404, who
    for who in ("reg", "haizhu", "city", "province"):
        assert _login(v[who]).get(url).status_code == 200, who
    assert _login(v["reg"]).get(reverse("verification:return", args=[rnd.pk, 999999])).status_code == 404
    assert (
        _login(v["reg"]).get(reverse("verification:return", args=[999999, v["school"].pk])).status_code == 404
    )


def test_roster_search_answers_an_htmx_fragment(v, rnd):  # type: ignore[no-untyped-def]
    client = _login(v["reg"])
    response = client.get(_return_url(rnd, v["school"]), {"q": "林小雨"}, HTTP_HX_REQUEST="true",
                          HTTP_HX_TARGET="roster")  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200 and "林小雨" in body and "陈大海" not in body
    assert "<html" not in body
    page = client.get(_return_url(rnd, v["school"])).content.decode()
    assert "林小雨" in page and "陈大海" in page and 'data-testid="submit-return"' in page


def test_mark_unmark_and_submit_through_the_pages(v, rnd):  # type: ignore[no-untyped-def]
    client = _login(v["reg"])
    mark = reverse("verification:mark", args=[rnd.pk, v["school"].pk, v["pupil"].pk])
    assert client.get(mark).status_code == 200
    response = client.post(mark, {"kind": "absent", "whereabouts": "", "detail": "不在"})
    assert response.status_code == 400 and "人籍分离须选择学生去向" in response.content.decode()
    assert not Finding.objects.exists()
    nxt = _return_url(rnd, v["school"]) + "?page=1"
    response = client.post(mark, {"kind": "absent", "whereabouts": "not_in_school", "detail": "未到校",
                                  "next": nxt})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == nxt
    assert Finding.objects.get().kind == "absent"
    page = client.get(_return_url(rnd, v["school"])).content.decode()
    assert 'data-testid="to-report"' in page and reverse("dropouts:open", args=[v["pupil"].person_id]) in page
    # An outside URL in "next" is ignored.
    response = client.post(mark, {"kind": "phantom", "detail": "查无此人", "next": "https://evil.example/"})
    assert response["Location"] == _return_url(rnd, v["school"])
    unmark = reverse("verification:unmark", args=[rnd.pk, v["school"].pk, v["pupil"].pk])
    client.post(unmark)
    assert not Finding.objects.exists()
    response = client.post(reverse("verification:submit", args=[rnd.pk, v["school"].pk]))
    assert response.status_code == 302
    assert _ret(rnd, v["school"]).state == ReturnState.SUBMITTED


def test_marking_another_schools_pupil_is_404_and_writes_nothing(v, rnd):  # type: ignore[no-untyped-def]
    data = {"kind": "phantom", "detail": "查无此人"}
    # The other county's registrar on our school: 404.
    url = reverse("verification:mark", args=[rnd.pk, v["school"].pk, v["pupil"].pk])
    assert _login(v["reg_other"]).post(url, data).status_code == 404
    # Our registrar with a pupil of another school in the URL: 404.
    url = reverse("verification:mark", args=[rnd.pk, v["school"].pk, v["sibling_pupil"].pk])
    assert _login(v["reg"]).post(url, data).status_code == 404
    # The county may read but not mark: 403.
    url = reverse("verification:mark", args=[rnd.pk, v["school"].pk, v["pupil"].pk])
    assert _login(v["haizhu"]).post(url, data).status_code == 403
    submit = reverse("verification:submit", args=[rnd.pk, v["school"].pk])
    assert _login(v["reg_other"]).post(submit).status_code == 404
    assert not Finding.objects.exists()
    assert _ret(rnd, v["school"]).state == ReturnState.DRAFT


def test_blocked_submit_names_the_count_and_links_the_problem_queue(v, rnd):  # type: ignore[no-untyped-def]
    ProblemRecord.objects.create(kind=ProblemRecord.Kind.ID_INVALID, person_id=v["pupil"].person_id,
                                 province_code="440000", scope_path=v["school"].org.path)  # fmt: skip
    client = _login(v["reg"])
    response = client.post(reverse("verification:submit", args=[rnd.pk, v["school"].pk]), follow=True)
    body = response.content.decode()
    assert "本校还有 1 条问题学籍既未处理也未填写情况说明" in body
    assert 'href="/checks/"' in body and 'data-testid="problems-block"' in body
    assert _ret(rnd, v["school"]).state == ReturnState.DRAFT


def test_county_queue_and_decision(v, rnd):  # type: ignore[no-untyped-def]
    return_submit(actor=v["reg"], ret=_ret(rnd, v["school"]))
    queue = reverse("verification:review", args=[rnd.pk])
    assert _login(v["reg"]).get(queue).status_code == 404
    page = _login(v["haizhu"]).get(queue, {"state": "submitted"}).content.decode()
    assert "海珠一小" in page and "天河一小" not in page
    assert "天河一小" not in _login(v["haizhu"]).get(queue).content.decode()
    decide = reverse("verification:decide", args=[rnd.pk, v["school"].pk])
    assert _login(v["tianhe"]).post(decide, {"decision": "accept"}).status_code == 404
    assert _login(v["city"]).post(decide, {"decision": "accept"}).status_code == 403
    response = _login(v["haizhu"]).post(decide, {"decision": "return", "note": ""})
    assert response.status_code == 400 and "退回须填写审核意见" in response.content.decode()
    response = _login(v["haizhu"]).post(decide, {"decision": "return", "note": "请补充"})
    assert response.status_code == 302 and _ret(rnd, v["school"]).state == ReturnState.RETURNED
    page = _login(v["reg"]).get(_return_url(rnd, v["school"])).content.decode()
    assert "请补充" in page and "重新提交" in page


def test_progress_page_drills_down_to_schools(v, rnd):  # type: ignore[no-untyped-def]
    client = _login(v["province"])
    url = reverse("verification:round", args=[rnd.pk])
    page = client.get(url).content.decode()
    assert "广州市" in page and 'data-testid="total-total">3<' in page
    page = client.get(url, {"unit": f.dept("440105").pk}).content.decode()
    assert "海珠一小" in page and _return_url(rnd, v["school"]) in page and "天河一小" not in page
    assert _login(v["haizhu"]).get(url, {"unit": f.dept("440106").pk}).status_code == 404
    assert _login(v["haizhu"]).get(url, {"unit": "x"}).status_code == 404
    # A school registrar opening the round lands on its own return.
    response = _login(v["reg"]).get(url)
    assert response.status_code == 302 and response["Location"] == _return_url(rnd, v["school"])


def test_close_from_the_page(v, rnd):  # type: ignore[no-untyped-def]
    url = reverse("verification:close", args=[rnd.pk])
    assert _login(v["haizhu"]).post(url).status_code == 403
    assert _login(v["bj_province"]).post(url).status_code == 404
    _login(v["province"]).post(url)
    rnd.refresh_from_db()
    assert rnd.state == RoundState.CLOSED
