"""Student pages: jurisdiction matrix (anonymous, wrong role, other region, allowed), search with masked
identifiers, the audited record view and reveal, registration through the form, archive and family, problems."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import core as f
from tests.factories import students as sf
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.masking import mask_student_number
from xueji.students.fields import ENROLLMENT_FIELDS, GUARDIAN_FIELDS, MAX_GUARDIANS, PERSON_FIELDS
from xueji.students.forms import RegistrationForm
from xueji.students.models import ArchiveDocument, Enrollment, Guardian, Person, ProblemRecord
from xueji.students.services import register_students

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def student_a(school_a, registrar_a):  # type: ignore[no-untyped-def]
    return sf.student(school_a, registrar_a, name="林小雨")


@pytest.fixture
def people(school_a, school_b, registrar_a):  # type: ignore[no-untyped-def]
    """Everyone the matrix needs: allowed users, wrong roles and other regions."""
    return {
        "registrar_a": registrar_a,
        "county_a": f.user("dept_registrar", f.dept("440105")),
        "city": f.user("dept_registrar", f.dept("440100")),
        "registrar_b": f.registrar(school_b),
        "county_b": f.user("dept_registrar", f.dept("440106")),
        "beijing": f.user("dept_registrar", f.dept("110101")),
        "audit_admin": f.user("audit_admin", f.dept("440000")),
        "system_admin": f.user("system_admin", f.dept("440000")),
        "unfiled": f.registrar(school_a, filed=False),
    }


def _events(event_type: str, person_id: object = None) -> int:
    qs = AuditEvent.objects.filter(event_type=event_type)
    if person_id is not None:
        qs = qs.filter(subject_id=str(person_id))
    return qs.count()


# ---------------------------------------------------------------------------------------------------------
# Anonymous: every page redirects to the login page
# ---------------------------------------------------------------------------------------------------------


def _student_urls(
    person_id: object, doc_id: object = "00000000-0000-7000-8000-000000000000"
) -> list[tuple[str, str]]:
    return [
        ("get", reverse("students:list")),
        ("get", reverse("students:register")),
        ("get", reverse("students:problems")),
        ("get", reverse("students:detail", args=[person_id])),
        ("post", reverse("students:reveal", args=[person_id, "id_number"])),
        ("post", reverse("students:guardian_add", args=[person_id])),
        ("post", reverse("students:archive_upload", args=[person_id])),
        ("post", reverse("students:archive_complete", args=[person_id])),
        ("get", reverse("students:archive_file", args=[person_id, doc_id])),
        ("post", reverse("students:problem_resolve", args=[doc_id])),
    ]


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_everywhere(client, student_a):
    for method, url in _student_urls(student_a.person_id):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    assert _events(EventType.STUDENT_VIEWED) == 0


# ---------------------------------------------------------------------------------------------------------
# Other region / wrong role: the record is a 404 everywhere, and nothing is audited as viewed
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", ["registrar_b", "county_b", "beijing", "audit_admin", "system_admin", "unfiled"]
)
def test_record_outside_jurisdiction_is_404_on_every_page(client, people, student_a, who):
    doc = ArchiveDocument.objects.create(
        person=student_a.person,
        province_code="440000",
        kind="identity",
        title="x",
        file="archive/x",
        content_type="image/png",
        size=1,
        sha256="0",
        uploaded_by=people["registrar_a"],
    )
    client.force_login(people[who])
    pid = student_a.person_id
    for method, url in [
        ("get", reverse("students:detail", args=[pid])),
        ("post", reverse("students:reveal", args=[pid, "id_number"])),
        ("post", reverse("students:guardian_add", args=[pid])),
        ("post", reverse("students:archive_upload", args=[pid])),
        ("post", reverse("students:archive_complete", args=[pid])),
        ("get", reverse("students:archive_file", args=[pid, doc.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 404, (who, url)
        assert "林小雨" not in response.content.decode()
    assert _events(EventType.STUDENT_VIEWED) == 0
    assert _events(EventType.STUDENT_REVEALED) == 0
    assert Guardian.objects.filter(person_id=pid).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["registrar_b", "county_b", "beijing", "unfiled"])
def test_list_of_other_region_does_not_show_the_student(client, people, student_a, who):
    client.force_login(people[who])
    response = client.get(reverse("students:list"))
    assert response.status_code == 200
    assert "林小雨" not in response.content.decode()
    response = client.get(reverse("students:list"), {"q": student_a.person.id_number})
    assert "林小雨" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["audit_admin", "system_admin"])
def test_admin_roles_have_no_student_pages(client, people, student_a, who):
    """三权分立: the admin roles see no student data — the student pages do not exist for them."""
    client.force_login(people[who])
    for name in ("students:list", "students:register", "students:problems"):
        assert client.get(reverse(name)).status_code == 404, name


@pytest.mark.django_db
def test_unfiled_registrar_is_told_why(client, people, student_a):
    """第22条 先培训后上岗: an unfiled registrar sees the reason, not the data."""
    client.force_login(people["unfiled"])
    body = client.get(reverse("students:list")).content.decode()
    assert "备案" in body and "林小雨" not in body
    response = client.get(reverse("students:register"))
    assert response.status_code == 200
    assert "先培训后上岗" in response.content.decode()
    assert 'name="id_number"' not in response.content.decode()


# ---------------------------------------------------------------------------------------------------------
# Allowed: search, masked identifiers
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["registrar_a", "county_a", "city"])
def test_list_shows_the_student_with_masked_identifiers(client, people, student_a, who):
    client.force_login(people[who])
    response = client.get(reverse("students:list"))
    body = response.content.decode()
    person = student_a.person
    assert response.status_code == 200
    assert "林小雨" in body
    assert person.id_number not in body
    assert person.student_number not in body
    assert mask_student_number(person.student_number) in body
    assert (
        mask_student_number(person.student_number)
        == person.student_number[:7] + "*" * 8 + person.student_number[-4:]
    )
    assert person.id_number[:3] + "*" * 11 + person.id_number[-4:] in body


@pytest.mark.django_db
def test_search_by_name_prefix_number_and_exact_id(client, registrar_a, student_a, school_a):
    sf.student(school_a, registrar_a, name="王大力")
    client.force_login(registrar_a)
    person = student_a.person

    def names(**params: str) -> str:
        return client.get(reverse("students:list"), params).content.decode()

    assert "林小雨" in names(q="林") and "王大力" not in names(q="林")
    assert "林小雨" in names(q=person.student_number) and "王大力" not in names(q=person.student_number)
    assert "林小雨" in names(q=person.id_number)
    # A prefix of an identity number finds nothing (no enumeration of IDs).
    assert "林小雨" not in names(q=person.id_number[:12])


@pytest.mark.django_db
def test_htmx_search_returns_only_the_results_partial(client, registrar_a, student_a):
    client.force_login(registrar_a)
    response = client.get(reverse("students:list"), {"q": "林"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "林小雨" in body
    assert 'hx-get="/students/' not in body  # the search form is not repeated inside the results


@pytest.mark.django_db
def test_list_is_paginated_by_50(client, registrar_a, school_a):
    regs = [sf.registration(school_a, name=f"学生{f.han_digits(i)}") for i in range(51)]
    register_students(actor=registrar_a, school=school_a, registrations=regs)
    client.force_login(registrar_a)
    first = client.get(reverse("students:list")).content.decode()
    second = client.get(reverse("students:list"), {"page": 2}).content.decode()
    assert first.count('class="card-title"') == 50
    assert second.count('class="card-title"') == 1
    assert "?page=2" in first


@pytest.mark.django_db
def test_list_filters_by_grade_class_and_former(client, registrar_a, school_a):
    sf.student(school_a, registrar_a, name="一班生")
    reg = sf.registration(school_a, name="二年生", enrollment={"grade": "2", "class_name": "3班"})
    register_students(actor=registrar_a, school=school_a, registrations=[reg])
    client.force_login(registrar_a)
    body = client.get(reverse("students:list"), {"grade": "2"}).content.decode()
    assert "二年生" in body and "一班生" not in body
    body = client.get(reverse("students:list"), {"class_name": "3班"}).content.decode()
    assert "二年生" in body and "一班生" not in body


# ---------------------------------------------------------------------------------------------------------
# The record: one audited view, reveal, history
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["registrar_a", "county_a", "city"])
def test_detail_writes_exactly_one_view_event_and_masks(client, people, student_a, who):
    client.force_login(people[who])
    person = student_a.person
    before = _events(EventType.STUDENT_VIEWED, person.pk)
    response = client.get(reverse("students:detail", args=[person.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert _events(EventType.STUDENT_VIEWED, person.pk) == before + 1
    assert "林小雨" in body
    assert person.id_number not in body and person.student_number not in body
    assert person.phone not in body and "138****8000" in body
    assert "张大明" in body  # the family member
    assert "注册学籍" in body  # history shows the registration event


@pytest.mark.django_db
def test_reveal_returns_full_number_and_is_audited(client, registrar_a, student_a):
    client.force_login(registrar_a)
    person = student_a.person
    url = reverse("students:reveal", args=[person.pk, "id_number"])
    response = client.post(url, **HTMX)
    assert response.status_code == 200
    assert person.id_number in response.content.decode()
    assert "<html" not in response.content.decode()
    event = AuditEvent.objects.get(event_type=EventType.STUDENT_REVEALED, subject_id=str(person.pk))
    assert event.actor_id == registrar_a.pk and event.after == {"field": "id_number"}
    phone = client.post(reverse("students:reveal", args=[person.pk, "phone"]), **HTMX)
    assert person.phone in phone.content.decode()
    assert _events(EventType.STUDENT_REVEALED, person.pk) == 2


@pytest.mark.django_db
def test_reveal_refuses_get_and_other_fields(client, registrar_a, student_a):
    client.force_login(registrar_a)
    pid = student_a.person_id
    assert client.get(reverse("students:reveal", args=[pid, "id_number"])).status_code == 405
    assert client.post(reverse("students:reveal", args=[pid, "name"])).status_code == 404
    assert _events(EventType.STUDENT_REVEALED) == 0


@pytest.mark.django_db
def test_history_can_hide_views(client, registrar_a, student_a):
    client.force_login(registrar_a)
    url = reverse("students:detail", args=[student_a.person_id])
    client.get(url)
    body = client.get(url, {"views": "0"}).content.decode()
    history = body[body.index('id="history"') :]
    assert "注册学籍" in history
    assert "查看学生完整信息" not in history


@pytest.mark.django_db
def test_former_school_sees_the_record_but_cannot_edit(client, people, student_a):
    """A dept registrar sees the record (read) but gets no edit forms; posting anyway is 403."""
    client.force_login(people["county_a"])
    body = client.get(reverse("students:detail", args=[student_a.person_id])).content.decode()
    assert "添加家庭成员" not in body and "上传档案材料" not in body
    response = client.post(
        reverse("students:guardian_add", args=[student_a.person_id]),
        {f"g-{k}": v for k, v in f.guardian_data(name="赵六").items()},
    )
    assert response.status_code == 403
    assert not Guardian.objects.filter(name="赵六").exists()


# ---------------------------------------------------------------------------------------------------------
# Registration through the form
# ---------------------------------------------------------------------------------------------------------


def test_registration_form_lays_out_every_national_field_once():
    form = RegistrationForm(stages=["primary"])
    names = [bf.name for section in form.sections() for bf in section.fields]
    expected = [s.key for s in PERSON_FIELDS + ENROLLMENT_FIELDS]
    expected += [f"guardians.{i}.{s.key}" for i in range(MAX_GUARDIANS) for s in GUARDIAN_FIELDS]
    assert sorted(names) == sorted(expected)
    assert len(names) == len(set(names))


@pytest.mark.django_db
def test_register_page_for_registrar(client, registrar_a, school_a):
    client.force_login(registrar_a)
    response = client.get(reverse("students:register"))
    body = response.content.decode()
    assert response.status_code == 200
    assert school_a.name in body
    assert 'name="guardians.1.name"' in body
    # grade choices follow the school's stages (a primary school: 1–6 only)
    grade_select = body[body.index('name="grade"') :]
    grade_select = grade_select[: grade_select.index("</select>")]
    assert '<option value="6">' in grade_select and '<option value="7">' not in grade_select


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["county_a", "registrar_b", "beijing"])
def test_register_page_is_for_school_registrars_only(client, people, who):
    client.force_login(people[who])
    if who == "registrar_b":  # a registrar registers at their own school, never at school A
        body = client.get(reverse("students:register")).content.decode()
        assert "天河区实验小学" in body and "海珠区第一小学" not in body
    else:
        assert client.get(reverse("students:register")).status_code == 404


@pytest.mark.django_db
def test_register_success_creates_student_and_shows_number_once(client, registrar_a, school_a):
    client.force_login(registrar_a)
    person = f.person_data(name="新同学")
    response = client.post(reverse("students:register"), sf.registration_post(person))
    created = Person.objects.get(name="新同学")
    assert response.status_code == 302
    assert response["Location"] == reverse("students:detail", args=[created.pk])
    assert created.student_number == "G" + person["id_number"]
    assert Enrollment.objects.get(person=created).school_id == school_a.pk
    page = client.get(response["Location"]).content.decode()
    assert f'data-testid="new-number">{created.student_number}<' in page
    again = client.get(response["Location"]).content.decode()
    assert created.student_number not in again  # one-shot: masked from then on
    assert _events(EventType.STUDENT_REGISTERED, created.pk) == 1


@pytest.mark.django_db
def test_central_school_registrar_registers_at_its_teaching_point(client, registrar_a, school_a):
    """第22条: a teaching point's records may be kept by its central school's registrar."""
    point = f.school("440105", "teaching_point", name="海珠区某教学点", central_school=school_a)
    client.force_login(registrar_a)
    body = client.get(reverse("students:register")).content.decode()
    assert f'<option value="{point.pk}">海珠区某教学点</option>' in body
    data = sf.registration_post(f.person_data(name="点上生"))
    response = client.post(reverse("students:register"), {**data, "school": str(point.pk)})
    assert response.status_code == 302
    assert Enrollment.objects.get(person__name="点上生").school_id == point.pk


@pytest.mark.django_db
def test_register_number_is_not_put_in_a_cookie(client, registrar_a):
    client.force_login(registrar_a)
    person = f.person_data(name="饼干")
    response = client.post(reverse("students:register"), sf.registration_post(person))
    assert response.status_code == 302
    assert Person.objects.filter(name="饼干").count() == 1  # registered, yet its number is in no cookie
    assert all(person["id_number"] not in morsel.value for morsel in response.cookies.values())


@pytest.mark.django_db
def test_register_field_errors_next_to_inputs_and_nothing_written(client, registrar_a):
    client.force_login(registrar_a)
    person = f.person_data(name="", native_place="广东广州市")
    guardian = f.guardian_data(phone="12345")
    response = client.post(reverse("students:register"), sf.registration_post(person, guardians=[guardian]))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_name-error">姓名为必填项<' in body
    assert 'id="id_guardians.0.phone-error">联系电话“12345”格式不正确' in body
    assert 'aria-invalid="true"' in body
    assert 'data-error-code="registration_invalid"' in body
    assert 'value="广东广州市"' in body  # input kept
    assert Person.objects.count() == 0
    assert _events(EventType.STUDENT_REGISTERED) == 0


@pytest.mark.django_db
def test_register_missing_guardian_is_a_form_level_error(client, registrar_a):
    client.force_login(registrar_a)
    response = client.post(reverse("students:register"), sf.registration_post(guardians=[]))
    assert response.status_code == 400
    assert "至少填写一名家庭成员" in response.content.decode()
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_register_duplicate_id_names_the_other_school(client, registrar_a, school_b):
    """第9、12条 一人一籍: the same identity number active elsewhere is refused, naming that school."""
    person = f.person_data(name="重复生")
    [other] = register_students(
        actor=None,
        school=school_b,
        registrations=[
            sf.registration(
                school_b, **{k: v for k, v in person.items() if k not in {"birth_date", "gender"}}
            )
        ],
    )
    client.force_login(registrar_a)
    response = client.post(reverse("students:register"), sf.registration_post(person))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="student_already_enrolled"' in body
    error = body[body.index('id="id_id_number-error"') :]
    assert "天河区实验小学" in error[:200]
    assert Person.objects.count() == 1 and Person.objects.get().pk == other.person_id


@pytest.mark.django_db
def test_register_suspected_duplicate_is_announced(client, registrar_a, school_a):
    sf.student_without_id(school_a, registrar_a, name="无证生")
    client.force_login(registrar_a)
    person = f.person_data(name="无证生", id_type="Z", id_number="")
    response = client.post(reverse("students:register"), sf.registration_post(person), follow=True)
    body = response.content.decode()
    assert "疑似重复" in body
    assert ProblemRecord.objects.filter(state="open").count() == 1


# ---------------------------------------------------------------------------------------------------------
# Family and archive (第6条)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_guardian_add_and_field_errors(client, registrar_a, student_a):
    client.force_login(registrar_a)
    url = reverse("students:guardian_add", args=[student_a.person_id])
    bad = client.post(url, {f"g-{k}": v for k, v in f.guardian_data(name="王五", phone="abc").items()})
    assert bad.status_code == 400
    assert 'id="id_g-phone-error">' in bad.content.decode()
    assert not Guardian.objects.filter(name="王五").exists()
    good = client.post(url, {f"g-{k}": v for k, v in f.guardian_data(name="王五", relation="2").items()})
    assert good.status_code == 302 and good["Location"].endswith("#family")
    assert Guardian.objects.get(name="王五").person_id == student_a.person_id


@pytest.mark.django_db
def test_archive_png_accepted_and_downloadable(client, registrar_a, student_a):
    client.force_login(registrar_a)
    pid = student_a.person_id
    response = client.post(
        reverse("students:archive_upload", args=[pid]),
        {"a-kind": "identity", "a-title": "身份证", "a-file": SimpleUploadedFile("id.png", PNG, "image/png")},
    )
    assert response.status_code == 302 and response["Location"].endswith("#archive")
    doc = ArchiveDocument.objects.get(person_id=pid)
    assert doc.content_type == "image/png" and doc.size == len(PNG)
    download = client.get(reverse("students:archive_file", args=[pid, doc.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert student_a.person.name not in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == PNG


@pytest.mark.django_db
def test_archive_refuses_text_named_pdf(client, registrar_a, student_a):
    client.force_login(registrar_a)
    response = client.post(
        reverse("students:archive_upload", args=[student_a.person_id]),
        {
            "a-kind": "identity",
            "a-title": "假PDF",
            "a-file": SimpleUploadedFile("id.pdf", b"just text, not a pdf", "application/pdf"),
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="file_type"' in body
    assert 'id="id_a-file-error">只接受 PDF、JPEG、PNG 文件' in body
    assert ArchiveDocument.objects.count() == 0


@pytest.mark.django_db
def test_archive_too_large_refused(client, registrar_a, student_a, settings):
    settings.ARCHIVE_MAX_BYTES = 64
    client.force_login(registrar_a)
    response = client.post(
        reverse("students:archive_upload", args=[student_a.person_id]),
        {
            "a-kind": "photo",
            "a-title": "大照片",
            "a-file": SimpleUploadedFile("p.png", PNG + b"0" * 100, "image/png"),
        },
    )
    assert response.status_code == 400
    assert 'data-error-code="file_too_large"' in response.content.decode()
    assert ArchiveDocument.objects.count() == 0


@pytest.mark.django_db
def test_archive_complete_needs_a_document(client, registrar_a, student_a):
    client.force_login(registrar_a)
    pid = student_a.person_id
    url = reverse("students:archive_complete", args=[pid])
    page = client.post(url, follow=True).content.decode()
    assert "请先上传至少一份档案材料" in page
    assert Enrollment.objects.get(pk=student_a.pk).archive_completed_at is None
    client.post(
        reverse("students:archive_upload", args=[pid]),
        {"a-kind": "identity", "a-title": "身份证", "a-file": SimpleUploadedFile("id.png", PNG, "image/png")},
    )
    page = client.post(url, follow=True).content.decode()
    assert "学籍档案已标记为建立完成" in page
    assert Enrollment.objects.get(pk=student_a.pk).archive_completed_at is not None


@pytest.mark.django_db
def test_overdue_archive_shows_days_on_record(client, registrar_a, school_a):
    e = sf.student(school_a, registrar_a, name="逾期生", now=timezone.now() - timedelta(days=70))
    client.force_login(registrar_a)
    body = client.get(reverse("students:detail", args=[e.person_id])).content.decode()
    late = (timezone.localdate() - e.archive_due).days
    assert late > 0
    assert f"档案已超期 {late} 天" in body


# ---------------------------------------------------------------------------------------------------------
# Problem records (第9条)
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def problem(school_a, registrar_a):  # type: ignore[no-untyped-def]
    sf.student_without_id(school_a, registrar_a, name="疑似甲", birth_date=date(2018, 6, 1))
    sf.student_without_id(school_a, registrar_a, name="疑似甲", birth_date=date(2018, 6, 1))
    return ProblemRecord.objects.get()


@pytest.mark.django_db
def test_problems_listed_for_school_read_only(client, registrar_a, problem):
    """The former page redirects to the one queue (xueji.checks); the school sees its record, cannot resolve."""
    client.force_login(registrar_a)
    redirected = client.get(reverse("students:problems"))
    assert redirected.status_code == 302 and redirected.url == reverse("checks:queue")
    body = client.get(redirected.url).content.decode()
    assert "疑似甲" in body
    detail = client.get(reverse("checks:problem", args=[problem.pk])).content.decode()
    assert 'data-testid="act-resolve"' not in detail
    response = client.post(
        reverse("students:problem_resolve", args=[problem.pk]),
        {"outcome": "distinct", "note": "核实为双胞胎"},
    )
    assert response.status_code == 403
    assert ProblemRecord.objects.get().state == "open"


@pytest.mark.django_db
def test_county_resolves_a_problem(client, people, problem):
    client.force_login(people["county_a"])
    detail = client.get(reverse("checks:problem", args=[problem.pk])).content.decode()
    assert 'data-testid="act-resolve"' in detail
    empty = client.post(
        reverse("students:problem_resolve", args=[problem.pk]),
        {"outcome": "distinct", "note": ""},
        follow=True,
    )
    assert "请填写处理意见" in empty.content.decode()
    assert ProblemRecord.objects.get().state == "open"
    client.post(
        reverse("students:problem_resolve", args=[problem.pk]), {"outcome": "distinct", "note": "双胞胎"}
    )
    resolved = ProblemRecord.objects.get()
    assert resolved.state == "distinct" and resolved.resolution_note == "双胞胎"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["county_b", "beijing"])
def test_problem_of_other_region_is_404(client, people, problem, who):
    client.force_login(people[who])
    assert "疑似甲" not in client.get(reverse("checks:queue")).content.decode()
    assert client.get(reverse("checks:problem", args=[problem.pk])).status_code == 404
    response = client.post(
        reverse("students:problem_resolve", args=[problem.pk]), {"outcome": "distinct", "note": "x"}
    )
    assert response.status_code == 404
    assert ProblemRecord.objects.get().state == "open"


@pytest.mark.django_db
@pytest.mark.parametrize("without_id", [False, True])
def test_registrar_reveals_the_full_student_number_audited(client, school_a, registrar_a, without_id):
    """Issue 8 item 1: the school's registrar sees the full 学籍号 of its own students (J-numbered pupils without
    an ID too) through the audited reveal; the page itself shows it masked."""
    e = (sf.student_without_id if without_id else sf.student)(school_a, registrar_a, name="林小雨")
    number = e.person.student_number
    client.force_login(registrar_a)
    page = client.get(reverse("students:detail", args=[e.person_id])).content.decode()
    assert number not in page and mask_student_number(number) in page
    assert reverse("students:reveal", args=[e.person_id, "student_number"]) in page
    response = client.post(reverse("students:reveal", args=[e.person_id, "student_number"]), **HTMX)
    assert response.status_code == 200 and number in response.content.decode()
    event = AuditEvent.objects.get(event_type=EventType.STUDENT_REVEALED, subject_id=str(e.person_id))
    assert event.after == {"field": "student_number"} and number not in str(event.summary)


@pytest.mark.django_db
def test_student_number_reveal_out_of_scope_is_404(client, people, student_a):
    client.force_login(people["registrar_b"])
    url = reverse("students:reveal", args=[student_a.person_id, "student_number"])
    assert client.post(url, **HTMX).status_code == 404
    assert _events(EventType.STUDENT_REVEALED) == 0
