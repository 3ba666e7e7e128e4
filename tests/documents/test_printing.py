"""Printed documents (issue 8 item 6): the 学籍卡 and the transfer form as print views and PDFs — the scope of the
record and request pages (404 outside it, nothing written), the identifiers shown in full exactly where the
record page lets the viewer reveal them, one audit event per print without personal data, PDF bytes with the
student's name and rare characters, the rate limit, and the URL fetcher that serves only our static files."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.audit.queries import events_about
from xueji.changes.models import ApprovalStep
from xueji.changes.queries import transfer_lookup
from xueji.changes.services import change_decide, change_submit
from xueji.core.masking import mask_id_number, mask_phone, mask_student_number
from xueji.documents import pdf as pdf_module
from xueji.documents.pdf import ResourceRefused, StaticFilesOnly, pdf_document
from xueji.students.models import Person

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 24)
GUARDIAN_PHONE = "13900139000"


@pytest.fixture
def s(tree):  # type: ignore[no-untyped-def]
    """A Haizhu pupil at school 1, a receiving school 2 in Haizhu, one in Tianhe, their county registrars."""
    c.calendar()
    src = f.school("440105", "primary", name="海珠一小")
    dst = f.school("440105", "primary", name="海珠二小")
    other = f.school("440106", "primary", name="天河一小")
    enrollment = c.enrolled(src, grade=3, name="林小雨")
    return {
        "src": src,
        "dst": dst,
        "other": other,
        "reg_src": f.registrar(src, display_name="王老师"),
        "reg_dst": f.registrar(dst, display_name="李老师"),
        "reg_other": f.registrar(other),
        "haizhu": f.user("dept_registrar", f.dept("440105"), display_name="海珠区学籍科"),
        "beijing": c.dept_registrar("110101"),
        "audit_admin": f.user("audit_admin", f.dept("440000")),
        "enrollment": enrollment,
        "person": Person.objects.get(pk=enrollment.person_id),
    }


def _transfer(s: dict[str, Any]) -> Any:
    found = transfer_lookup(student_number=s["person"].student_number, name="林小雨")
    return change_submit(
        actor=s["reg_dst"],
        kind="transfer",
        enrollment=found,
        target_school=s["dst"],
        facts={"class_name": "3班", "reason_text": "随父母工作调动"},
        today=DAY,
    )


def _approve_all(s: dict[str, Any], req: Any) -> Any:
    change_decide(actor=s["reg_src"], request=req, action="approve", comment="同意转出", today=DAY)
    return change_decide(actor=s["haizhu"], request=req, action="approve", today=DAY)


def _get(client: Any, user: Any, url: str) -> Any:
    client.force_login(user)
    return client.get(url)


def _printed() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=EventType.DOCUMENT_PRINTED).order_by("id"))


def _text(document: Any) -> str:
    """The text WeasyPrint laid out on the pages (what the PDF draws), in order."""
    out: list[str] = []

    def walk(box: Any) -> None:
        text = getattr(box, "text", None)
        if isinstance(text, str):
            out.append(text)
        for child in getattr(box, "children", None) or []:
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return "".join(out)


@pytest.fixture
def rendered(monkeypatch):  # type: ignore[no-untyped-def]
    """The documents the PDF views lay out, kept so a test can read their text."""
    documents: list[Any] = []

    def spy(html: str) -> Any:
        document = pdf_document(html)
        documents.append(document)
        return document

    monkeypatch.setattr(pdf_module, "pdf_document", spy)
    return documents


# --------------------------------------------------------------------------------------------------------
# 学籍卡
# --------------------------------------------------------------------------------------------------------


def test_card_prints_revealable_identifiers_in_full_and_audits_like_a_reveal(client, s):
    person = s["person"]
    url = reverse("documents:card", args=[person.pk])
    response = _get(client, s["reg_src"], url)
    assert response.status_code == 200
    body = response.content.decode()
    # The record page reveals 学籍号, ID number and phone to this viewer: the card prints them in full.
    assert person.student_number in body
    assert person.id_number in body
    assert person.phone in body
    # Family members' numbers stay masked as on the record page.
    assert GUARDIAN_PHONE not in body and mask_phone(GUARDIAN_PHONE) in body
    for text in (
        "学生学籍卡",
        "林小雨",
        "海珠一小",
        "基本信息",
        "在校信息",
        "身份证件",
        "家庭成员",
        "学籍变动记录",
    ):
        assert text in body
    assert response["Cache-Control"] == "no-store"  # core.middleware.NoStoreMiddleware
    [event] = _printed()
    assert (event.actor_id, event.subject_type, event.subject_id) == (
        s["reg_src"].pk,
        "student",
        str(person.pk),
    )
    assert event.org_unit_id == s["src"].pk
    assert event.after == {
        "document": "card",
        "channel": "html",
        "keys": ["id_number", "phone", "student_number"],
    }
    # Who printed which record — never the personal data itself.
    stored = json.dumps([event.summary, event.before, event.after], ensure_ascii=False)
    for value in (person.name, person.student_number, person.id_number, person.phone):
        assert value not in stored
    # A print is a read: the record's "只看变更" history leaves it out, like views and reveals.
    kept = events_about(subject_type="student", subject_id=person.pk, include_views=False)
    assert not kept.filter(event_type=EventType.DOCUMENT_PRINTED).exists()


def test_card_has_no_navigation_buttons_or_htmx_in_the_document(client, s):
    body = _get(client, s["reg_src"], reverse("documents:card", args=[s["person"].pk])).content.decode()
    assert 'class="sidenav"' not in body and 'class="topbar"' not in body
    assert "hx-" not in body and "<form" not in body
    doc = body.split('data-testid="sheet"', 1)[1]
    assert "<button" not in doc and "<a " not in doc  # controls only in the screen toolbar (hidden in print)
    assert "css/print.css" in body


def test_card_out_of_scope_is_404_and_writes_nothing(client, s):
    person = s["person"]
    for name in ("documents:card", "documents:card_pdf"):
        url = reverse(name, args=[person.pk])
        for user in (s["reg_other"], s["beijing"], s["audit_admin"]):
            assert _get(client, user, url).status_code == 404, (name, user)
    assert (
        _get(
            client, s["reg_src"], reverse("documents:card", args=["00000000-0000-7000-8000-000000000000"])
        ).status_code
        == 404
    )
    client.logout()
    assert client.get(reverse("documents:card", args=[person.pk])).status_code == 302
    assert _printed() == []


def test_card_county_registrar_above_the_school_may_print(client, s):
    response = _get(client, s["haizhu"], reverse("documents:card", args=[s["person"].pk]))
    assert response.status_code == 200
    assert [e.actor_id for e in _printed()] == [s["haizhu"].pk]


def test_card_pdf_is_a4_with_the_name_and_noto_cjk(client, s, rendered):
    person = s["person"]
    response = _get(client, s["reg_src"], reverse("documents:card_pdf", args=[person.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="xueji-card-{person.pk}.pdf"'
    data = response.content
    assert data.startswith(b"%PDF")
    [document] = rendered
    assert {"Noto Serif CJK SC", "Noto Sans CJK SC"} <= {font.family for font in document.fonts.values()}
    text = _text(document)
    assert "林小雨" in text and person.student_number in text and "学生学籍卡" in text
    assert "打印" not in text.split("学生学籍卡", 1)[0]  # no screen toolbar in the PDF
    width, height = document.pages[0].width, document.pages[0].height
    assert (round(width * 25.4 / 96), round(height * 25.4 / 96)) == (210, 297)  # A4 in CSS px
    [event] = _printed()
    assert event.after["channel"] == "pdf"


def test_rare_characters_render_without_error(client, s, rendered):
    rare = c.enrolled(s["src"], grade=2, name="王䶮𠀀")  # Ext A and Ext B (U+20000)
    response = _get(client, s["reg_src"], reverse("documents:card_pdf", args=[rare.person_id]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert "王䶮𠀀" in _text(rendered[0])
    # 䶮 (Ext A) is drawn with a real glyph of an installed CJK font; 𠀀 (Ext B) with any installed font that
    # holds it — or, with none on the machine, the missing-glyph box: never an error.
    fonts = list(rendered[0].fonts.values())
    assert any("䶮" in font.to_unicode.values() and 0x4DAE not in font.missing for font in fonts)
    assert any("𠀀" in font.to_unicode.values() for font in fonts)
    html = _get(client, s["reg_src"], reverse("documents:card", args=[rare.person_id])).content.decode()
    assert "王䶮𠀀" in html


def test_former_school_prints_its_frozen_copy_with_id_and_phone_masked(client, s):
    """Issue #6 §3.5: after the transfer the sending school sees its snapshot; the record page reveals only
    the 学籍号 there — so does the card."""
    req = _approve_all(s, _transfer(s))
    assert req.state == "approved"
    person = s["person"]
    body = _get(client, s["reg_src"], reverse("documents:card", args=[person.pk])).content.decode()
    assert "转出时" in body
    assert person.student_number in body
    # (The 学籍号 of an ID holder is "G" + the ID number: the number appears only inside the 学籍号.)
    assert mask_id_number(person.id_number) in body
    assert body.count(person.id_number) == body.count(person.student_number)
    assert person.phone not in body and mask_phone(person.phone) in body
    assert "转学" in body and "海珠二小" in body  # the status change in the summary
    [event] = _printed()
    assert event.after["keys"] == ["student_number"]


# --------------------------------------------------------------------------------------------------------
# Transfer form
# --------------------------------------------------------------------------------------------------------


def test_transfer_form_shows_parties_reason_and_approvals(client, s):
    req = _approve_all(s, _transfer(s))
    response = _get(client, s["reg_dst"], reverse("documents:change_form", args=[req.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "中小学生转学申请表",
        "林小雨",
        "海珠一小",
        "海珠二小",
        "随父母工作调动",
        "3班",
        "已办结",
        "第十五条",
    ):
        assert text in body, text
    # Approvals: each unit, its result, the approver's name and the date.
    for text in ("王老师", "李老师", "海珠区学籍科", "同意转出", "已同意"):
        assert text in body, text
    for step in ApprovalStep.objects.filter(request=req):
        assert f"<td>{timezone.localtime(step.decided_at):%Y-%m-%d}</td>" in body
    # The request page's masking: the 学籍号 only masked here.
    number = s["person"].student_number
    assert number not in body and mask_student_number(number) in body
    [event] = _printed()
    assert event.after == {
        "document": "change_form",
        "channel": "html",
        "request": str(req.pk),
        "kind": "transfer",
    }
    assert event.subject_id == str(s["person"].pk) and event.actor_id == s["reg_dst"].pk
    assert "林小雨" not in json.dumps([event.summary, event.after], ensure_ascii=False)


def test_transfer_form_pdf(client, s, rendered):
    req = _transfer(s)
    response = _get(client, s["reg_src"], reverse("documents:change_form_pdf", args=[req.pk]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == f'attachment; filename="xueji-transfer-{req.pk}.pdf"'
    text = _text(rendered[0])
    assert "林小雨" in text and "海珠二小" in text and "随父母工作调动" in text
    assert [e.after["channel"] for e in _printed()] == ["pdf"]


def test_transfer_form_out_of_scope_is_404_and_writes_nothing(client, s):
    req = _transfer(s)
    for name in ("documents:change_form", "documents:change_form_pdf"):
        url = reverse(name, args=[req.pk])
        for user in (s["reg_other"], s["beijing"], s["audit_admin"]):
            assert _get(client, user, url).status_code == 404, (name, user)
    assert _printed() == []


def test_a_kind_without_a_form_is_404(client, s):
    suspension = change_submit(
        actor=s["reg_src"],
        kind="suspension",
        enrollment=s["enrollment"],
        facts={
            "start_date": "2026-10-08",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=DAY,
    )
    assert (
        _get(client, s["reg_src"], reverse("documents:change_form", args=[suspension.pk])).status_code == 404
    )
    assert _printed() == []


def test_links_on_the_record_and_request_pages(client, s):
    req = _transfer(s)
    record = _get(client, s["reg_src"], reverse("students:detail", args=[s["person"].pk])).content.decode()
    assert reverse("documents:card", args=[s["person"].pk]) in record
    assert reverse("documents:card_pdf", args=[s["person"].pk]) in record
    page = _get(client, s["reg_src"], reverse("changes:detail", args=[req.pk])).content.decode()
    assert reverse("documents:change_form", args=[req.pk]) in page
    assert reverse("documents:change_form_pdf", args=[req.pk]) in page


# --------------------------------------------------------------------------------------------------------
# Bounded work and no network
# --------------------------------------------------------------------------------------------------------


def test_pdfs_are_rate_limited_and_the_refusal_prints_nothing(client, s, settings):
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "print": (1, 3600)}
    url = reverse("documents:card_pdf", args=[s["person"].pk])
    assert _get(client, s["reg_src"], url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert len(_printed()) == 1
    assert AuditEvent.objects.filter(event_type=EventType.RATE_LIMITED, actor=s["reg_src"]).count() == 1
    # The print view itself (no PDF) is counted as a reveal, not as PDF work.
    assert client.get(reverse("documents:card", args=[s["person"].pk])).status_code == 200


def test_card_counts_as_a_reveal(client, s, settings):
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "reveal": (1, 3600)}
    url = reverse("documents:card", args=[s["person"].pk])
    assert _get(client, s["reg_src"], url).status_code == 200
    assert client.get(url).status_code == 429
    assert len(_printed()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/static/css/print.css",
        "https://example.com/static/css/print.css",
        "file:///etc/passwd",
        "data:text/css,body{}",
        "https://xueji.invalid/etc/passwd",
        "https://xueji.invalid/static/../config/settings.py",
        "https://xueji.invalid/static/%2e%2e/config/settings.py",
        "https://xueji.invalid/static/js/print.js",  # ours, but not a stylesheet or image
        "https://xueji.invalid/static/css/missing.css",
    ],
)
def test_fetcher_serves_nothing_but_our_stylesheets_and_images(url):
    with pytest.raises(ResourceRefused):
        StaticFilesOnly().fetch(url)


def test_fetcher_serves_our_stylesheet():
    response = StaticFilesOnly().fetch("https://xueji.invalid/static/css/print.css")
    assert response.content_type == "text/css"
    assert b"@page" in response.read()


def test_a_document_naming_outside_resources_renders_without_them():
    html = (
        '<html><head><link rel="stylesheet" href="http://example.com/evil.css"></head>'
        '<body><img src="file:///etc/passwd"><p>王䶮</p></body></html>'
    )
    assert "王䶮" in _text(pdf_document(html))
