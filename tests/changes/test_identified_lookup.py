"""Issue 8 item 1: a receiving school names the student by 学籍号 OR identity number AND name (第14、15、20条),
tolerating spaces and full-width characters; both must still match (numbers cannot be probed for names)."""

from __future__ import annotations

import unicodedata

import pytest

from tests.factories import students as sf
from xueji.changes.kinds.abroad import person_by_number
from xueji.changes.kinds.progression import progression_lookup
from xueji.changes.queries import transfer_lookup
from xueji.core.errors import NotFound
from xueji.students.search import identified_q, normalise_name

pytestmark = pytest.mark.django_db


def _full_width(text: str) -> str:
    """ASCII → the full-width forms an IME produces (NFKC maps them back)."""
    out = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    assert unicodedata.normalize("NFKC", out) == text
    return out


@pytest.fixture
def pupil(school_a, registrar_a):  # type: ignore[no-untyped-def]
    return sf.student(school_a, registrar_a, name="林小雨")


def test_by_student_number_or_id_number_with_spaces_and_full_width(pupil) -> None:
    person = pupil.person
    spaced_id = " ".join([person.id_number[:6], person.id_number[6:14], person.id_number[14:]])
    for number in (
        person.student_number,
        person.id_number,
        spaced_id,
        _full_width(person.id_number),
        _full_width(person.student_number).lower(),
    ):
        assert transfer_lookup(student_number=number, name=" 林 小雨 ").pk == pupil.pk, number
        assert progression_lookup(student_number=number, name="林小雨").pk == pupil.pk, number
        assert person_by_number(number, "林小雨").pk == person.pk, number


@pytest.mark.parametrize("name", ["林小", "林小雨雨", ""])
def test_the_name_must_still_match(pupil, name) -> None:
    with pytest.raises(NotFound):
        transfer_lookup(student_number=pupil.person.id_number, name=name)
    with pytest.raises(NotFound):
        transfer_lookup(student_number=pupil.person.student_number, name=name)


def test_a_prefix_or_anything_else_is_not_a_number(pupil) -> None:
    """Never a prefix of an identity number, and nothing that is neither kind of number."""
    for number in (pupil.person.id_number[:12], "林小雨", "", "G123"):
        with pytest.raises(NotFound):
            transfer_lookup(student_number=number, name="林小雨")
    assert identified_q("林小雨", "林小雨") is None


def test_j_numbered_pupil_without_an_id_is_found_by_student_number(school_a, registrar_a) -> None:
    e = sf.student_without_id(school_a, registrar_a, name="阿依古丽·买买提")
    assert e.person.student_number.startswith("J")
    found = transfer_lookup(student_number=e.person.student_number, name="阿依古丽・买买提")
    assert found.pk == e.pk


def test_name_normalisation() -> None:
    assert normalise_name(" 阿依古丽 • 买买提 ") == "阿依古丽·买买提"
    assert normalise_name("张\u3000三") == "张三"


def test_a_foreign_students_latin_name_is_found(school_a, registrar_a) -> None:
    e = sf.student(
        school_a, registrar_a, name="John Smith", nationality="USA", id_type="A", id_number="E12345678"
    )
    for typed in ("John Smith", " John  Smith ", "John\u3000Smith"):
        assert transfer_lookup(student_number=e.person.student_number, name=typed).pk == e.pk
    with pytest.raises(NotFound):
        transfer_lookup(student_number=e.person.student_number, name="JohnSmith")
