"""English pages show no Chinese but data (issue 8 item 14).

The key pages (login, dashboard, student list, student record, approval worklist) are rendered with the
language cookie or the browser's ``Accept-Language`` set to English, and their visible text — text nodes plus the
attributes a reader sees (``title``, ``placeholder``, ``aria-label``, ``alt``, the ``data-label`` the card layout
shows on phones) — must hold no CJK character. Data is excluded: schools, classes, addresses and a change's facts
are seeded in ASCII, and what stays Chinese because it is data (the names of students and family members, of the
departments and of the administrative divisions, GB/T 2260, and the audit trail's stored summaries) is removed
before the check. Text inside an element marked ``lang="zh-…"`` is Chinese on purpose: the language menu names
简体中文 in its own script, and that is asserted too. ``scripts/check_translations.py`` (``make lint``) checks the
catalogue itself.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import changes as c
from tests.factories import core as f
from xueji.audit.models import AuditEvent
from xueji.changes.services import change_submit
from xueji.regions import divisions
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment, Guardian, Person

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-label"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Seeded as ASCII so that what the student record shows of them is not mistaken for untranslated UI. Names stay
# Chinese (a Latin name needs a foreign passport, 第10条) and are removed as data.
ASCII_PERSON = {
    "native_place": "Guangzhou",
    "current_address": "1 Xingang Road",
    "mailing_address": "1 Xingang Road",
    "home_address": "1 Xingang Road",
}
ASCII_GUARDIAN = {"address": "1 Xingang Road"}


HIDDEN = {"script", "style", "template"}


class VisibleText(HTMLParser):
    """The text a reader of the page sees; what sits in a ``lang="zh…"`` element is kept apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # open elements: (tag, marked lang="zh…")
        self.shown: list[str] = []
        self.chinese_on_purpose: list[str] = []

    def _target(self, chinese: bool = False) -> list[str] | None:
        if any(tag in HIDDEN for tag, _zh in self.stack):
            return None
        return self.chinese_on_purpose if chinese or any(zh for _tag, zh in self.stack) else self.shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        chinese = (values.get("lang") or "").lower().startswith("zh")
        target = self._target(chinese)
        if target is not None and tag not in HIDDEN:
            target.extend(v for k, v in attrs if k in SHOWN_ATTRIBUTES and v)
            if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
                target.append(values["value"] or "")
        if tag not in VOID:
            self.stack.append((tag, chinese))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        target = self._target()
        if target is not None and data.strip():
            target.append(data.strip())


def _data_names(codes: set[str]) -> list[str]:
    """Chinese that is data: every department and school name, every student's and family member's name, the
    division names of the seeded codes, and the audit trail's summaries (written once, in the language of the
    day, into an append-only record)."""
    names = set(OrgUnit.objects.values_list("name", flat=True))
    names |= set(Person.objects.values_list("name", flat=True))
    names |= set(Guardian.objects.values_list("name", flat=True))
    names |= set(AuditEvent.objects.values_list("summary", flat=True))
    for code in codes:
        names.add(divisions.full_name(code))
        for prefix in (code[:2] + "0000", code[:4] + "00", code):
            division = divisions.get_division(prefix)
            if division is not None:
                names.add(division.name)
    return sorted((n for n in names if n), key=len, reverse=True)


def _untranslated(body: str, data: list[str]) -> list[str]:
    parser = VisibleText()
    parser.feed(body)
    left = []
    for shown in parser.shown:
        text = shown
        for name in data:
            text = text.replace(name, "")
        if CJK.search(text):
            left.append(text)
    return left


def _assert_english(response, codes: set[str]) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="en"' in body
    assert (
        _untranslated(body, _data_names(codes)) == []
    )  # after the request: it may have written an audit row
    # The language menu still names Chinese in Chinese (and only there is Chinese on purpose).
    assert re.search(r'<option value="zh-hans" lang="zh-hans"[^>]*>简体中文</option>', body)
    parser = VisibleText()
    parser.feed(body)
    assert "简体中文" in parser.chinese_on_purpose
    return body


@pytest.fixture
def world(tree, settings, tmp_path):  # type: ignore[no-untyped-def]
    """A Haizhu school with one student whose transfer to a second Haizhu school waits for the sending school."""
    settings.MEDIA_ROOT = tmp_path / "media"
    c.calendar()
    src = f.school("440105", "primary", name="Harbour Road Primary School")
    dst = f.school("440105", "primary", name="Riverside Primary School")
    registrar = f.registrar(src, username="reg_en")
    receiving = f.registrar(dst, username="reg_en_dst")
    enrollment = c.enrolled(src, grade=3, name="林小雨", **ASCII_PERSON)
    Enrollment.objects.filter(pk=enrollment.pk).update(class_name="Class 1")
    person = Person.objects.get(pk=enrollment.person_id)
    for guardian in person.guardians.all():  # encrypted columns are written through save() (issue 11 §3)
        for name, value in ASCII_GUARDIAN.items():
            setattr(guardian, name, value)
        guardian.save()
    change_submit(
        actor=receiving,
        kind="transfer",
        enrollment=enrollment,
        target_school=dst,
        facts={"class_name": "Class 3", "reason_text": "Family moved"},
    )
    codes = {"440105", f.person_data()["birthplace_code"], f.person_data()["household_code"]}
    return {"registrar": registrar, "person": person, "codes": codes}


def _english(client, settings, user):  # type: ignore[no-untyped-def]
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_login_page_in_english_from_the_browser_language(client, tree):
    """No cookie yet: the browser's Accept-Language picks English."""
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    body = _assert_english(response, set())
    assert "Log in" in body


def test_dashboard_in_english(client, settings, world):
    body = _assert_english(
        _english(client, settings, world["registrar"]).get(reverse("dashboard:dashboard")), world["codes"]
    )
    assert "Dashboard" in body


def test_student_list_in_english(client, settings, world):
    body = _assert_english(
        _english(client, settings, world["registrar"]).get(reverse("students:list")), world["codes"]
    )
    assert "林小雨" in body and "Class 1" in body


def test_student_record_in_english(client, settings, world):
    url = reverse("students:detail", args=[world["person"].pk])
    body = _assert_english(_english(client, settings, world["registrar"]).get(url), world["codes"])
    assert "林小雨" in body and "1 Xingang Road" in body


def test_worklist_in_english(client, settings, world):
    body = _assert_english(
        _english(client, settings, world["registrar"]).get(reverse("changes:worklist")), world["codes"]
    )
    assert 'data-testid="work-item"' in body
    assert "Riverside Primary School" in body


def test_the_check_sees_chinese_ui_text_and_spares_data_and_the_language_menu():
    """The detector itself: UI Chinese is caught (text and shown attributes); data names and lang="zh" are not."""
    page = (
        '<html lang="en"><head><title>Students</title><style>p::after{content:"中"}</style></head><body>'
        '<select><option value="zh-hans" lang="zh-hans">简体中文</option></select>'
        '<p>海珠区 school</p><p title="提示">ok</p><td data-label="学生">x</td><button>保存</button>'
        '<script>var s = "脚本";</script><input type="submit" value="提交"></body></html>'
    )
    assert _untranslated(page, ["海珠区"]) == ["提示", "学生", "保存", "提交"]
    parser = VisibleText()
    parser.feed(page)
    assert parser.chinese_on_purpose == ["简体中文"]


def _check_script():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[2] / "scripts" / "check_translations.py"
    spec = importlib.util.spec_from_file_location("check_translations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_catalogue_check_names_every_kind_of_gap():
    """scripts/check_translations.py (make lint): empty, partly empty plural, fuzzy and still-Chinese entries
    are each reported with where they come from; translated ones and the language's own name are not."""
    check = _check_script()
    po = "\n".join(
        [
            'msgid ""',
            'msgstr ""',
            '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
            "",
            "#: templates/a.html:3",
            'msgid "学生"',
            'msgstr ""',
            "",
            "#: templates/b.html:1 xueji/x.py:9",
            "#, python-format",
            'msgid "%(n)s 名学生"',
            'msgid_plural "%(n)s 名学生"',
            'msgstr[0] "%(n)s student"',
            'msgstr[1] ""',
            "",
            "#: xueji/y.py:2",
            "#, fuzzy",
            '#| msgid "旧的"',
            'msgid "新的"',
            'msgstr "Old"',
            "",
            "#: xueji/z.py:4",
            'msgctxt "school state"',
            'msgid "已撤销"',
            'msgstr "已撤销"',
            "",
            "#: config/settings.py",
            'msgid "简体中文"',
            'msgstr "简体中文"',
            "",
            "#: xueji/ok.py:1",
            'msgid "学校"',
            'msgstr ""',
            '"Schools"',
            "",
            '#~ msgid "过时"',
            '#~ msgstr ""',
        ]
    )
    entries = check.parse_po(po)
    assert [e.msgid for e in entries] == ["", "学生", "%(n)s 名学生", "新的", "已撤销", "简体中文", "学校"]
    assert entries[6].msgstr == {0: "Schools"} and entries[4].msgctxt == "school state"
    assert check.problems(entries) == [
        "untranslated: '学生'  [templates/a.html:3]",
        "untranslated: '%(n)s 名学生'  [templates/b.html:1, xueji/x.py:9]",
        "fuzzy (check and clear the flag): '新的'  [xueji/y.py:2]",
        "Chinese left in the English text: 'school state\\x04已撤销'  [xueji/z.py:4]",
    ]
