"""The dashboard (工作台): per-role content, worklists within jurisdiction, and the admin variant."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from tests.factories import students as sf
from xueji.core.web import paginate
from xueji.students.models import ProblemRecord


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("dashboard:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_school_registrar_sees_stats_and_overdue_worklist(client, school_a, registrar_a):
    """第6条: an archive not built two months after registration is overdue and on the school's worklist."""
    late = sf.student(school_a, registrar_a, name="超期生", now=timezone.now() - timedelta(days=75))
    sf.student(school_a, registrar_a, name="按期生")  # due in two months: not on the 14-day list
    client.force_login(registrar_a)
    response = client.get(reverse("dashboard:dashboard"))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["stats"] == {"active": 2, "overdue": 1, "due_soon": 0, "problems": 0}
    days = (timezone.localdate() - late.archive_due).days
    assert [e.person.name for e, *_ in response.context["archive_worklist"]] == ["超期生"]
    assert "超期生" in body and f"超期 {days} 天" in body
    assert 'class="badge bad overdue"' in body
    assert school_a.name in body  # the viewer's unit


@pytest.mark.django_db
def test_county_sees_due_soon_and_duplicates_with_resolve_link(client, school_a, registrar_a):
    """第6、9条: the county's worklist has its schools' archives due and the suspected duplicates to resolve."""
    county = f.user("dept_registrar", f.dept("440105"))
    sf.student(school_a, registrar_a, name="将到期", now=timezone.now() - timedelta(days=52))
    sf.student_without_id(school_a, registrar_a, name="同名同生")
    sf.student_without_id(school_a, registrar_a, name="同名同生")
    client.force_login(county)
    response = client.get(reverse("dashboard:dashboard"))
    body = response.content.decode()
    assert response.context["stats"]["due_soon"] == 1
    assert response.context["stats"]["problems"] == 1
    assert "将到期" in body and "同名同生" in body
    problem = ProblemRecord.objects.get(kind=ProblemRecord.Kind.SUSPECTED_DUPLICATE)
    assert reverse("checks:problem", args=[problem.pk]) in body  # 处理 opens the record in the problem queue


@pytest.mark.django_db
def test_other_county_sees_none_of_it(client, school_a, registrar_a):
    sf.student(school_a, registrar_a, name="超期生", now=timezone.now() - timedelta(days=75))
    client.force_login(f.user("dept_registrar", f.dept("110101")))
    response = client.get(reverse("dashboard:dashboard"))
    assert response.context["stats"] == {"active": 0, "overdue": 0, "due_soon": 0, "problems": 0}
    assert "超期生" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["audit_admin", "security_admin", "system_admin"])
def test_admin_dashboard_has_no_student_data(client, school_a, registrar_a, role):
    sf.student(school_a, registrar_a, name="不可见", now=timezone.now() - timedelta(days=75))
    client.force_login(f.user(role, f.dept("440000")))
    response = client.get(reverse("dashboard:dashboard"))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "dashboard/admin_dashboard.html"
    assert "不可见" not in body and "stats" not in response.context
    if role == "audit_admin":
        assert reverse("audit:list") in body


@pytest.mark.django_db
def test_unfiled_registrar_is_told_to_file_first(client, school_a):
    client.force_login(f.registrar(school_a, filed=False))
    body = client.get(reverse("dashboard:dashboard")).content.decode()
    assert "先培训后上岗" in body


def test_paginate_clamps_bad_page_numbers(rf):
    request = rf.get("/", {"page": "abc"})
    assert paginate(request, list(range(120))).number == 1
    request = rf.get("/", {"page": "99"})
    assert paginate(request, list(range(120))).number == 3


@pytest.mark.django_db
def test_dashboard_switches_to_english(client, school_a, registrar_a, settings):
    client.force_login(registrar_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get(reverse("dashboard:dashboard")).content.decode()
    assert '<html lang="en">' in body
    # (the 在籍学生 tile's English comes with the translations of issue 8)
    assert ">Dashboard<" in body and "Archives overdue" in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "在籍学生" in client.get(reverse("dashboard:dashboard")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_language_menu_names_each_language_in_its_own_script(client, registrar_a, settings, language):
    """Issue 8 item 14: a reader of either language finds theirs (English, 简体中文) whatever the page's language."""
    client.force_login(registrar_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    body = client.get(reverse("dashboard:dashboard")).content.decode()
    assert re.search(r'<option value="zh-hans" lang="zh-hans"[^>]*>简体中文</option>', body)
    assert re.search(r'<option value="en" lang="en"[^>]*>English</option>', body)
