"""The student list (issue 8 item 11): a name found by any part of it, the class filter by number, the grade
filter limited to the school's stages, whitelisted total sorts (page by page and by keyset), page numbers and
page sizes, and row selection posting to the batch endpoints."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils.encoding import iri_to_uri

from tests.factories import core as f
from tests.factories import students as sf
from xueji.core.pagination import DEFAULT_PAGE_SIZE, PAGE_SIZES, page_links, page_size_param
from xueji.students import views
from xueji.students.models import Enrollment
from xueji.students.queries import (
    LIST_ORDER,
    LIST_SORTS,
    StudentFilters,
    after_q,
    class_q,
    enrollment_list,
    list_grades,
)
from xueji.students.services import register_students

HTMX = {"HTTP_HX_REQUEST": "true"}


def birth_for(grade: int) -> date:
    """A birth date of the normal age for ``grade`` in the school year the factories enrol in (2026)."""
    return date(2019 - (grade - 1), 10, 1)


def pupils(school: Any, actor: Any, rows: list[tuple[str, int, str]]) -> list[Enrollment]:
    """Register (name, grade, class) rows at ``school`` in one batch, through the real service."""
    regs = [
        sf.registration(
            school,
            name=name,
            birth_date=birth_for(grade),
            enrollment={"grade": str(grade), "class_name": class_name},
        )
        for name, grade, class_name in rows
    ]
    done = register_students(actor=actor, school=school, registrations=regs)
    found = Enrollment.objects.filter(pk__in=[d.enrollment_id for d in done]).select_related("person")
    by_id = {e.pk: e for e in found}
    return [by_id[d.enrollment_id] for d in done]  # in the order given


def names_on(client: Any, **params: Any) -> list[str]:
    """The names of the list page's rows, in order."""
    body = client.get(reverse("students:list"), params).content.decode()
    return re.findall(r'<td class="card-title"[^>]*><a href="[^"]+">([^<]+)</a>', body)


# ---------------------------------------------------------------------------------------------------------
# Search and filters
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_finds_a_name_by_any_part_of_it(client, registrar_a, school_a):
    """张馨瑜 by 馨瑜 (two characters or more: any part); one character is the surname."""
    pupils(school_a, registrar_a, [("张馨瑜", 1, "1班"), ("李馨", 1, "1班"), ("王小瑜", 1, "1班")])
    client.force_login(registrar_a)
    assert names_on(client, q="馨瑜") == ["张馨瑜"]
    assert set(names_on(client, q="馨")) == set()  # one character: a surname, and nobody is called 馨…
    assert names_on(client, q="张") == ["张馨瑜"]
    assert set(names_on(client, q="瑜")) == set()
    assert names_on(client, q="小瑜") == ["王小瑜"]


CLASS_NAMES = [
    "3班",
    "03班",
    "(3)班",
    "高一(3)班",
    "三班",
    "3",
    "13班",
    "30班",
    "4班",
    "火箭班",
    "12班",
    "十二班",
    "2班",
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("3", {"3班", "03班", "(3)班", "高一(3)班", "三班", "3"}),
        ("３班", {"3班", "03班", "(3)班", "高一(3)班", "三班", "3"}),  # full-width, with 班
        (" (3)班 ", {"3班", "03班", "(3)班", "高一(3)班", "三班", "3"}),
        ("12", {"12班", "十二班"}),
        ("火箭班", {"火箭班"}),  # not a number: the class name, exactly
        ("", set(CLASS_NAMES)),
    ],
)
def test_class_q_reads_a_number_as_the_class_number(registrar_a, school_a, typed, found):
    rows = pupils(
        school_a, registrar_a, [(f"学生{f.han_digits(i)}", 1, "1班") for i in range(len(CLASS_NAMES))]
    )
    for e, class_name in zip(rows, CLASS_NAMES, strict=True):
        Enrollment.objects.filter(pk=e.pk).update(class_name=class_name)
    matched = Enrollment.objects.filter(pk__in=[e.pk for e in rows]).filter(class_q(typed))
    assert set(matched.values_list("class_name", flat=True)) == found


@pytest.mark.django_db
def test_the_class_filter_finds_the_class_by_its_number(client, registrar_a, school_a):
    rows = pupils(
        school_a,
        registrar_a,
        [("甲同学", 1, "3班"), ("乙同学", 1, "(3)班"), ("丙同学", 1, "13班"), ("丁同学", 1, "1班")],
    )
    Enrollment.objects.filter(pk=rows[3].pk).update(class_name="三班")  # a school that writes the numeral
    client.force_login(registrar_a)
    assert set(names_on(client, class_name="3")) == {"甲同学", "乙同学", "丁同学"}
    assert set(names_on(client, class_name="3班")) == {"甲同学", "乙同学", "丁同学"}
    assert set(names_on(client, class_name="13")) == {"丙同学"}
    # the same reading in the query every list uses
    found = enrollment_list(viewer=registrar_a, filters=StudentFilters(class_name="３"))
    assert {e.person.name for e in found} == {"甲同学", "乙同学", "丁同学"}


def test_list_grades_follow_the_stages():
    assert list_grades([["primary"]]) == [1, 2, 3, 4, 5, 6]
    assert list_grades([["junior"], ["senior"]]) == [7, 8, 9, 10, 11, 12]
    assert list_grades([["primary", "junior"], []]) == list(range(1, 10))
    assert list_grades([]) == []


def _grade_options(body: str) -> list[str]:
    select = body[body.index('id="s-grade"') :]
    return re.findall(r'<option value="(\d+)"', select[: select.index("</select>")])


@pytest.mark.django_db
def test_the_grade_filter_offers_only_the_grades_of_the_schools_stages(client, registrar_a, school_a):
    """A primary school's registrar is offered 一年级 … 六年级, never 初一; a county with a primary and a junior
    school 1–9, and 7–9 once the junior school is chosen; a grade outside them is no filter."""
    junior = f.school("440105", "junior", name="海珠区第一中学")
    pupils(school_a, registrar_a, [("小学生", 1, "1班")])
    pupils(junior, f.registrar(junior), [("中学生", 7, "1班")])
    client.force_login(registrar_a)
    body = client.get(reverse("students:list")).content.decode()
    assert _grade_options(body) == ["1", "2", "3", "4", "5", "6"]
    assert ">一年级</option>" in body and "初一" not in body
    assert names_on(client, grade="7") == ["小学生"]  # not offered: ignored, not "nobody"

    client.force_login(f.user("dept_registrar", f.dept("440105")))
    assert _grade_options(client.get(reverse("students:list")).content.decode()) == [
        str(g) for g in range(1, 10)
    ]
    body = client.get(reverse("students:list"), {"school": junior.pk}).content.decode()
    assert _grade_options(body) == ["7", "8", "9"]
    assert names_on(client, school=junior.pk, grade="7") == ["中学生"]
    # an htmx answer re-sends the grade select for the chosen school (out of band)
    fragment = client.get(reverse("students:list"), {"school": school_a.pk}, **HTMX).content.decode()
    assert 'id="s-grade" name="grade" hx-swap-oob="true"' in fragment
    assert _grade_options(fragment) == ["1", "2", "3", "4", "5", "6"]


# ---------------------------------------------------------------------------------------------------------
# Sorting
# ---------------------------------------------------------------------------------------------------------


def test_every_sort_is_whitelisted_and_total():
    """Each order ends in the primary key (a total order: paging never repeats or skips a row)."""
    assert LIST_SORTS[""] == LIST_ORDER
    for key, order in LIST_SORTS.items():
        assert order[-1].lstrip("-") == "pk", key
        assert len({f.lstrip("-") for f in order}) == len(order), key


@pytest.fixture
def mixed(registrar_a, school_a):  # type: ignore[no-untyped-def]
    return pupils(
        school_a,
        registrar_a,
        [
            ("丙三", 2, "1班"),
            ("甲一", 1, "2班"),
            ("乙二", 3, "1班"),
            ("丁四", 1, "1班"),
            ("甲一", 2, "2班"),  # the same name twice: the pk decides
        ],
    )


def _key(e: Enrollment, field: str) -> Any:
    return e.person.name if field == "person__name" else getattr(e, field)


@pytest.mark.django_db
@pytest.mark.parametrize("sort", sorted(LIST_SORTS))
def test_each_sort_orders_the_list_and_keyset_paging_agrees(registrar_a, mixed, sort):
    rows = list(enrollment_list(viewer=registrar_a, filters=StudentFilters(sort=sort)))
    order = LIST_SORTS[sort]
    expected = list(mixed)
    for field in reversed(order):  # stable sorts from the last key to the first
        name = field.lstrip("-")
        expected.sort(key=lambda e, name=name: _key(e, name), reverse=field.startswith("-"))  # type: ignore[misc]
    assert [e.pk for e in rows] == [e.pk for e in expected]
    # keyset paging (the API's ``after``) walks the same order, one row at a time, without repeats or gaps
    walked, cursor = [], None
    for _ in range(len(rows) + 1):
        qs = enrollment_list(viewer=registrar_a, filters=StudentFilters(sort=sort))
        if cursor is not None:
            qs = qs.filter(after_q(viewer=registrar_a, enrollment_id=cursor, sort=sort))
        page = list(qs[:1])
        if not page:
            break
        walked.append(page[0].pk)
        cursor = page[0].pk
    assert walked == [e.pk for e in rows]


@pytest.mark.django_db
def test_sortable_headers_toggle_and_unknown_sorts_are_the_default(client, registrar_a, mixed):
    client.force_login(registrar_a)
    assert names_on(client, sort="name") == ["丁四", "丙三", "乙二", "甲一", "甲一"]
    assert names_on(client, sort="-name")[:3] == ["甲一", "甲一", "乙二"]
    assert names_on(client, sort="grade")[:2] == ["丁四", "甲一"]  # 一年级 1班, 一年级 2班
    assert names_on(client, sort="-grade")[0] == "乙二"
    assert names_on(client, sort="person__id_number") == names_on(client)  # not whitelisted: default
    body = client.get(reverse("students:list"), {"sort": "name"}).content.decode()
    assert '<th aria-sort="ascending"><a class="sort-link" href="?sort=-name"' in body
    assert 'aria-sort="none"><a class="sort-link" href="?sort=grade"' in body
    assert "学籍号</th>" in body  # the masked 学籍号 is not a sort (its hidden digits would be ordered)
    # the default order is the school column's; it has no reverse (a school id is no order to reverse)
    body = client.get(reverse("students:list")).content.decode()
    assert '<th aria-sort="ascending"><a class="sort-link" href="?sort=school"' in body
    assert names_on(client, sort="school") == names_on(client) and "-school" not in LIST_SORTS


# ---------------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------------


def test_page_size_param_is_one_of_the_offered_sizes():
    assert PAGE_SIZES == (20, 50, 100)
    assert [page_size_param(v) for v in ("20", "100", "50", "37", "", None, "1e9", "-20")] == [
        20,
        100,
        50,
        DEFAULT_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
    ]


@pytest.mark.parametrize(
    ("number", "pages", "capped", "links"),
    [
        (1, 1, False, [1]),
        (1, 5, False, [1, 2, 3, 4, 5]),
        (1, 9, False, [1, 2, 3, None, 9]),
        (5, 9, False, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # an ellipsis never stands for one page
        (6, 12, False, [1, None, 4, 5, 6, 7, 8, None, 12]),
        (4, 9, False, [1, 2, 3, 4, 5, 6, None, 9]),
        (9, 9, False, [1, None, 7, 8, 9]),
        (1, 201, True, [1, 2, 3, None]),  # "1 万+": no last page to link to
        (100, 201, True, [1, None, 98, 99, 100, 101, 102, None]),
    ],
)
def test_page_links(number, pages, capped, links):
    assert page_links(number, pages, capped=capped) == links


@pytest.mark.django_db
def test_page_numbers_and_page_sizes(client, registrar_a, school_a):
    pupils(school_a, registrar_a, [(f"学生{f.han_digits(i)}", 1, "1班") for i in range(45)])
    client.force_login(registrar_a)
    assert len(names_on(client)) == 45
    assert len(names_on(client, size=20)) == 20
    assert len(names_on(client, size=20, page=3)) == 5
    assert len(names_on(client, size=7)) == 45  # not offered: the default 50
    body = client.get(reverse("students:list"), {"size": 20, "page": 2}).content.decode()
    assert '<span class="page-no current" aria-current="page">2</span>' in body
    assert 'href="?size=20&amp;page=3"' in body and 'href="?size=20&amp;page=1"' in body
    assert "第 2 / 3 页，共 45 条" in body
    assert 'data-page-size="50"' in body and 'data-page-size="100"' in body  # the other sizes
    assert '<input type="hidden" id="s-size" name="size" value="20">' in body  # kept by the next search
    fragment = client.get(reverse("students:list"), {"size": 20, "sort": "name"}, **HTMX).content.decode()
    assert 'id="s-sort" name="sort" value="name" hx-swap-oob="true"' in fragment
    assert 'id="s-size" name="size" value="20" hx-swap-oob="true"' in fragment


@pytest.mark.django_db
def test_a_capped_list_links_no_last_page(client, registrar_a, school_a, monkeypatch):
    from xueji.core import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    pupils(school_a, registrar_a, [(f"学生{f.han_digits(i)}", 1, "1班") for i in range(12)])
    client.force_login(registrar_a)
    body = client.get(reverse("students:list"), {"size": 20}).content.decode()
    assert "共 1 万+ 条" in body
    assert '<span class="gap" aria-hidden="true">…</span>' in body


# ---------------------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_school_registrar_selects_rows_for_the_batch_class_move(client, registrar_a, school_a):
    """The rows' checkboxes belong to the selection form (form="selection-form"), whose buttons post the
    person ids to the batch endpoints that exist (调班)."""
    rows = pupils(school_a, registrar_a, [("甲同学", 1, "1班"), ("乙同学", 1, "1班")])
    client.force_login(registrar_a)
    body = client.get(reverse("students:list")).content.decode()
    move = reverse("students:class_move")
    assert f'<form id="selection-form" class="selection-bar" method="post" action="{move}"' in body
    assert f'formaction="{move}"' in body and "js/selection.js" in body
    for e in rows:
        assert f'name="ids" value="{e.person_id}" form="selection-form" data-select-row' in body
    assert "data-select-all" in body
    # the partial's contract is the one the endpoint reads: ids = person ids, next = back to the list
    response = client.post(
        move, {"ids": [str(e.person_id) for e in rows], "class_name": "2班", "next": "/students/?q=同学"}
    )
    assert response.status_code == 302 and response["Location"] == iri_to_uri("/students/?q=同学")
    assert set(
        Enrollment.objects.filter(pk__in=[e.pk for e in rows]).values_list("class_name", flat=True)
    ) == {"2班"}


@pytest.mark.django_db
def test_no_selection_without_an_action(client, registrar_a, school_a, monkeypatch):
    """A county viewer (no batch action of a school registrar) and a list whose actions have no URL yet show
    no checkboxes and no bar."""
    pupils(school_a, registrar_a, [("甲同学", 1, "1班")])
    client.force_login(f.user("dept_registrar", f.dept("440105")))
    body = client.get(reverse("students:list")).content.decode()
    assert "甲同学" in body and "data-select-row" not in body and "selection-form" not in body
    monkeypatch.setattr(views, "SELECTION_ACTIONS", (("students:no_such_batch", "批量操作"),))
    client.force_login(registrar_a)
    body = client.get(reverse("students:list")).content.decode()
    assert "data-select-row" not in body and "selection-form" not in body


@pytest.mark.django_db
def test_the_selection_partial_takes_its_actions(rf, registrar_a):
    from django.template.loader import render_to_string

    request = rf.get("/students/?q=x")
    request.user = registrar_a
    html = render_to_string(
        "students/_selection.html",
        {"actions": [{"url": "/a/", "label": "甲"}, {"url": "/b/", "label": "乙"}]},
        request=request,
    )
    assert 'action="/a/"' in html and 'formaction="/a/"' in html and 'formaction="/b/"' in html
    assert 'name="next" value="/students/?q=x"' in html and "csrfmiddlewaretoken" in html
    assert "hidden" in html.split(">", 1)[0]  # the bar shows once a row is selected
