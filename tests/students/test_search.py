"""Student search (issue 7): what a term means, that it finds what it should and nothing else, that the
same filter serves the web list and the API, that counts stop at the cap, and that PostgreSQL serves every
kind of term from an index."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.jurisdiction import scope_paths
from xueji.core import pagination
from xueji.students.models import Enrollment, Person
from xueji.students.queries import StudentFilters, enrollment_list
from xueji.students.search import Term, bigrams, enrollment_q, parse_term


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", Term("", "")),
        ("   ", Term("", "")),
        ("张", Term("name", "张")),
        (" 馨 瑜 ", Term("name", "馨瑜")),
        ("阿依古丽·买买提", Term("name", "阿依古丽·买买提")),
        ("G44010520180314827X", Term("student_number", "G44010520180314827X")),
        ("ｇ４４０１０５２０１８０３１４８２７ｘ", Term("student_number", "G44010520180314827X")),
        ("g 440105 20180314 827x", Term("student_number", "G44010520180314827X")),
        ("44010520180314827x", Term("id_number", "44010520180314827X")),
        ("4401 0520 1803 1482 7X", Term("id_number", "44010520180314827X")),
        ("E12345678", Term("id_number", "E12345678")),
        ("A123456(7)", Term("id_number", "A123456(7)")),
        ("zhang  xin", Term("pinyin", "ZHANG XIN")),
        ("Xinyu", Term("pinyin", "XINYU")),
    ],
)
def test_parse_term(raw, expected):
    assert parse_term(raw) == expected


def test_bigrams_are_the_distinct_two_character_parts():
    assert bigrams("张馨瑜") == ["张馨", "馨瑜"]
    assert bigrams("哈哈哈") == ["哈哈"]
    assert bigrams("张") == []


def _names(viewer, q: str, **filters) -> set[str]:
    rows = enrollment_list(viewer=viewer, filters=StudentFilters(q=q, **filters))
    return {e.person.name for e in rows}


@pytest.mark.django_db
def test_name_by_any_part_surname_by_prefix(registrar_a, school_a):
    for name in ("张馨瑜", "李馨瑜", "王馨", "欧阳馨瑜", "阿依古丽·买买提", "馨"):
        sf.student(school_a, registrar_a, name=name)
    assert _names(registrar_a, "馨瑜") == {"张馨瑜", "李馨瑜", "欧阳馨瑜"}
    assert _names(registrar_a, "阳馨") == {"欧阳馨瑜"}  # the middle of a four-character name
    assert _names(registrar_a, "张馨瑜") == {"张馨瑜"}
    assert _names(registrar_a, "古丽·买") == {"阿依古丽·买买提"}
    assert _names(registrar_a, "买买提") == {"阿依古丽·买买提"}
    # One character is the surname, not any character of the name.
    assert _names(registrar_a, "馨") == {"馨"}
    assert _names(registrar_a, "张") == {"张馨瑜"}
    # Bigrams are a set: the LIKE check keeps the order (瑜馨 is not in 张馨瑜).
    assert _names(registrar_a, "瑜馨") == set()


@pytest.mark.django_db
def test_pinyin_by_prefix_and_by_part(registrar_a, school_a):
    sf.student(school_a, registrar_a, name="张馨瑜", name_pinyin="Zhang Xinyu")
    sf.student(school_a, registrar_a, name="李明", name_pinyin="Li Ming")
    assert _names(registrar_a, "zh") == {"张馨瑜"}
    assert _names(registrar_a, "xinyu") == {"张馨瑜"}
    assert _names(registrar_a, "ＺＨＡＮＧ ｘｉｎ") == {"张馨瑜"}
    assert _names(registrar_a, "in") == set()  # two letters: a prefix only
    assert _names(registrar_a, "ming") == {"李明"}


@pytest.mark.django_db
def test_identity_number_exact_for_every_document_type_never_a_prefix(registrar_a, school_a):
    resident = sf.student(school_a, registrar_a, name="林小雨")
    passport = sf.student(
        school_a,
        registrar_a,
        name="金民俊",
        id_type="A",
        id_number="E12345678",
        nationality="KOR",
        overseas_status="51",
        birth_date=date(2019, 5, 6),
    )
    number = resident.person.id_number
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}".lower()
    assert _names(registrar_a, number) == {"林小雨"}
    assert _names(registrar_a, spaced) == {"林小雨"}
    assert _names(registrar_a, "e12345678") == {"金民俊"}
    assert _names(registrar_a, number[:12]) == set()
    assert _names(registrar_a, "E1234567") == set()
    assert _names(registrar_a, passport.person.student_number) == {"金民俊"}


@pytest.mark.django_db
def test_search_never_reaches_outside_the_viewers_region(registrar_a, school_a, school_b):
    """第5、23条: a name, an identity number or a 学籍号 held in another county finds nothing."""
    other = sf.student(school_b, None, name="张馨瑜", name_pinyin="Zhang Xinyu")
    for q in ("张馨瑜", "馨瑜", "zhang", other.person.id_number, other.person.student_number):
        assert _names(registrar_a, q) == set(), q


@pytest.mark.django_db
def test_web_list_and_api_use_the_same_search(client, registrar_a, school_a):
    sf.student(school_a, registrar_a, name="张馨瑜")
    sf.student(school_a, registrar_a, name="王大力")
    client.force_login(registrar_a)
    page = client.get(reverse("students:list"), {"q": "馨瑜"}).content.decode()
    assert "张馨瑜" in page and "王大力" not in page
    api = client.get("/api/v1/students/", {"q": "馨瑜"}).json()
    assert [i["name"] for i in api["items"]] == ["张馨瑜"]
    assert api["count"] == 1 and api["count_exact"] is True


@pytest.mark.django_db
def test_counts_stop_at_the_cap(client, registrar_a, school_a, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    for i in range(4):
        sf.student(school_a, registrar_a, name=f"学生{f.han_digits(i)}")
    client.force_login(registrar_a)
    api = client.get("/api/v1/students/", {"page_size": 1}).json()
    assert api["count"] == 2 and api["count_exact"] is False
    page = client.get(reverse("students:list")).content.decode()
    assert "1 万+" in page
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    api = client.get("/api/v1/students/").json()
    assert api["count"] == 4 and api["count_exact"] is True


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize(
    ("q", "index"),
    [
        ("馨瑜", "enrollment_search_tokens"),
        ("张", "enrollment_search_tokens"),
        ("zhang", "person_pinyin_trgm"),
        ("44010520180314827X", "students_identitykey_"),  # the primary key or its pattern twin
        ("G44010520180314827X", "students_person_student_number"),
    ],
)
def test_postgresql_serves_every_term_from_an_index(q, index, registrar_a):
    """The SQL the product runs for a term can use its index (the planner is told not to scan; on a small test
    table it would rather scan). docs/performance.md shows the plans at a million students."""
    qs = Enrollment.objects.filter(enrollment_q(parse_term(q), scope_paths(registrar_a))).values("pk")
    plan = _plan(qs)
    assert any("Index" in line and index in line for line in plan.splitlines()), plan


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_longer_names_narrow_by_every_bigram_then_check_the_order(registrar_a):
    """Three characters or more: the tokens of all bigrams (index) and LIKE on the candidates (order)."""
    (path,) = scope_paths(registrar_a)
    sql, params = Enrollment.objects.filter(
        enrollment_q(parse_term("张馨瑜"), [path])
    ).query.sql_with_params()
    assert 'search_tokens" @> %s::text[]' in sql and "LIKE" in sql
    assert [f"{path}|张馨", f"{path}|馨瑜"] in params and "%张馨瑜%" in params


@pytest.mark.django_db
def test_a_renamed_or_moved_record_is_found_by_its_new_name_and_region(registrar_a, school_a, school_b):
    """The PostgreSQL search tokens follow the person's name (key-data change, 第13条) and the enrollment's
    region (a merger moves records to the successor, 第12条) — kept by triggers, whatever the write path."""
    e = sf.student(school_a, registrar_a, name="张馨瑜")
    Person.objects.filter(pk=e.person_id).update(name="李思远")
    assert _names(registrar_a, "思远") == {"李思远"} and _names(registrar_a, "馨瑜") == set()
    registrar_b = f.registrar(school_b, username="reg_b")
    Enrollment.objects.filter(pk=e.pk).update(school=school_b, scope_path=school_b.org.path)
    assert _names(registrar_b, "思远") == {"李思远"}
    assert _names(registrar_a, "思远") == set()


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_serves_region_scoping_from_the_pattern_index(registrar_a):
    plan = _plan(enrollment_list(viewer=registrar_a, filters=StudentFilters()).order_by())
    assert "enrollment_scope_pattern" in plan, plan


@pytest.mark.django_db
def test_keyset_pages_walk_the_whole_list_once(client, registrar_a, school_a):
    """``after`` (the last row's enrollment id) walks a long list without OFFSET: every row once, in order."""
    for i in range(7):
        sf.student(
            school_a, registrar_a, name=f"学生{f.han_digits(i % 3)}"
        )  # equal names: the key ends in the id
    client.force_login(registrar_a)
    seen, after = [], None
    for _ in range(10):
        params = {"page_size": 3, **({"after": after} if after else {})}
        body = client.get("/api/v1/students/", params).json()
        assert body["count"] == 7
        seen += [i["enrollment_id"] for i in body["items"]]
        after = body["next_after"]
        if after is None:
            break
    everything = client.get("/api/v1/students/", {"page_size": 50}).json()["items"]
    assert seen == [i["enrollment_id"] for i in everything]


@pytest.mark.django_db
def test_a_cursor_from_another_region_is_not_found(client, registrar_a, school_b):
    other = sf.student(school_b, None, name="张三")
    client.force_login(registrar_a)
    response = client.get("/api/v1/students/", {"after": str(other.pk)})
    assert response.status_code == 404
    refused = client.get("/api/v1/students/", {"after": str(other.pk), "page": 2})
    assert refused.status_code == 400 and "page" in refused.json()["fields"]
