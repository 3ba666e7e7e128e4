"""Student search that stays fast at national scale (issue 7): one reading of the search box for the web list,
the API list and every other list of enrollments, served by indexes.

What a term means (:func:`parse_term`; full-width characters and spaces typed or pasted are tolerated):

- **学籍号** — G/J/L + 17 digits + a digit or X: the blind index ``student_number_bidx`` (the number itself is
  stored encrypted, issue 11 §3).
- **identity number** — 6–20 letters and digits with at least one digit: EXACT match only, never a prefix
  (a prefix would enumerate numbers). It is looked up in the national identity registry
  (:class:`~xueji.students.models.IdentityKey`, primary key: the blind index of ``"<document type>:<number>"``)
  for every document type — a handful of primary-key probes.
- **phone** — a mainland mobile number: EXACT match on the pupil's or a family member's phone through their
  blind indexes (``phone_bidx``), or an identity document with that number.
- **pinyin** — Latin letters: ``UPPER(name_pinyin)`` by prefix, and by any part from 3 letters (PostgreSQL:
  ``pg_trgm`` GIN index on ``UPPER(name_pinyin)``).
- **name** — anything else (Chinese, with or without the middle dot of minority names): 1 character = the
  surname (a prefix); 2 or more = any part of the name (张馨瑜 by 馨瑜).

On PostgreSQL a name is found within the viewer's region from one GIN posting list: each enrollment carries
``search_tokens`` (migration 0004, kept by triggers) — for every region level of its path, every two-character
part of the name and its first character, as ``"<path>|<part>"``. A county registrar's search for 馨瑜 reads
``"<county path>|馨瑜"`` and nothing else, however common 馨瑜 is in the country; the scope filter is applied as
well (it is the security boundary, the tokens only the index). Two characters and one are exact through the
tokens; three or more are checked with ``LIKE`` on the candidates (a set of bigrams is not an order).

SQLite (the embedded default: a school or a county) runs the same filters as ``LIKE`` over its rows.

Region scoping is ``scope_path LIKE '<unit path>%'`` served by a ``varchar_pattern_ops`` btree
(``enrollment_scope_pattern``) on PostgreSQL, whose default btree cannot serve ``LIKE`` under a non-C
collation such as ``C.UTF-8``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from django.db import connection
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import Func

from xueji.core.errors import FieldError
from xueji.core.fieldcrypto import index_for

from .enums import IdDocumentType
from .models import Guardian, IdentityKey, Person
from .validation import clean_name, is_latin_name

TermKind = Literal["", "student_number", "id_number", "phone", "pinyin", "name"]

_STUDENT_NUMBER = re.compile(r"^[GJL]\d{17}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_ID_NUMBER = re.compile(r"^(?=.*\d)[0-9A-Z()]{6,20}$")
_PINYIN = re.compile(r"^[A-Za-z][A-Za-z' ]*$")
_SPACES = re.compile(r"\s+")

#: Pinyin is matched anywhere in the name from this many letters (trigrams need three); shorter is a prefix.
PINYIN_INFIX_MIN = 3


@dataclass(frozen=True)
class Term:
    kind: TermKind
    value: str


def parse_term(raw: str | None) -> Term:
    """What the search box holds: NFKC (full-width → half-width), spaces removed inside numbers and Chinese
    names, collapsed inside pinyin."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return Term("", "")
    compact = _SPACES.sub("", text).upper()
    if _STUDENT_NUMBER.match(compact):
        return Term("student_number", compact)
    if _MOBILE.match(compact):
        return Term("phone", compact)
    if _ID_NUMBER.match(compact):
        return Term("id_number", compact)
    if _PINYIN.match(text):
        return Term("pinyin", _SPACES.sub(" ", text).upper())
    return Term("name", _SPACES.sub("", text))


def bigrams(text: str) -> list[str]:
    """The distinct two-character parts of ``text`` — as ``xueji_search_tokens`` (migration 0004) takes them."""
    return sorted({text[i : i + 2] for i in range(len(text) - 1)})


def name_parts(name: str) -> list[str]:
    """The parts of a name term looked up in ``search_tokens``: its bigrams, or ``^`` + the surname."""
    return bigrams(name) if len(name) >= 2 else [f"^{name}"]


class _HasTokens(Func):
    """``<enrollment>.search_tokens @> %s::text[]`` under whatever alias the enrollment table has in the query.

    ``search_tokens`` is a PostgreSQL-only column kept by triggers (migration 0004), not a Django field, so it
    is reached through ``scope_path``'s compiled column reference."""

    output_field = BooleanField()

    def __init__(self, tokens: list[str]) -> None:
        super().__init__(F("scope_path"))
        self.tokens = tokens

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        column, params = compiler.compile(self.source_expressions[0])
        suffix = connection.ops.quote_name("scope_path")
        assert column.endswith(suffix), column
        tokens_column = column[: -len(suffix)] + connection.ops.quote_name("search_tokens")
        return f"{tokens_column} @> %s::text[]", [*params, self.tokens]


def _identity_keys(number: str) -> list[str]:
    return [IdentityKey.make_key(t, number) for t in IdDocumentType.values]


def person_q(term: Term, prefix: str = "") -> Q:
    """The filter of ``term`` on a Person's own columns (``prefix``: the path to the Person from the queried
    model, e.g. ``"person__"``). An empty term matches everything. Enrollment lists use
    :func:`enrollment_q`, which serves names from the region-scoped tokens on PostgreSQL."""
    p = prefix
    if term.kind == "":
        return Q()
    if term.kind == "student_number":
        return Q(**{f"{p}student_number_bidx": index_for(Person, "student_number", term.value)})
    if term.kind == "id_number":
        holders = IdentityKey.objects.filter(key__in=_identity_keys(term.value)).values("person_id")
        return Q(**{f"{p}pk__in": holders})
    if term.kind == "phone":
        # The pupil's or a family member's phone, exactly, through their blind indexes — or, as before, an
        # identity document whose number happens to look like a phone number.
        pupils = Person.objects.filter(phone_bidx=index_for(Person, "phone", term.value)).values("pk")
        family = Guardian.objects.filter(phone_bidx=index_for(Guardian, "phone", term.value)).values(
            "person_id"
        )
        holders = IdentityKey.objects.filter(key__in=_identity_keys(term.value)).values("person_id")
        return Q(**{f"{p}pk__in": pupils}) | Q(**{f"{p}pk__in": family}) | Q(**{f"{p}pk__in": holders})
    if term.kind == "pinyin":
        if len(term.value.replace(" ", "")) >= PINYIN_INFIX_MIN:
            return Q(**{f"{p}name_pinyin__icontains": term.value})
        return Q(**{f"{p}name_pinyin__istartswith": term.value})
    if len(term.value) == 1:
        return Q(**{f"{p}name__startswith": term.value})
    return Q(**{f"{p}name__contains": term.value})


def normalise_name(raw: str | None) -> str:
    """A typed or pasted name in the form registration stores it (:func:`~.validation.clean_name`: middle-dot
    look-alikes as ``·``), tolerating stray spaces — none inside a Chinese name, single ones between the parts
    of a Latin name. ``""`` when it could not be a registered name at all."""
    text = _SPACES.sub(" ", (raw or "").replace("\u3000", " ")).strip()
    if not is_latin_name(text):
        text = text.replace(" ", "")  # a Chinese name has no spaces (clean_name refuses them)
    try:
        return clean_name(text)
    except FieldError:
        return ""


def identified_q(number: str | None, name: str | None, prefix: str = "") -> Q | None:
    """The person named by a 学籍号 OR an identity number (any document type) AND a name — how a receiving
    school names a student it cannot see (第14、15、20条). Both must match, so numbers cannot be probed for
    names; spaces and full-width characters are tolerated in both. ``None`` when the number is neither a
    学籍号 nor an identity number, or the name is empty (nothing to look up)."""
    term = parse_term(number)
    if term.kind == "phone":  # a phone never names a person here; a document number that looks like one does
        term = Term("id_number", term.value)
    clean_name = normalise_name(name)
    if term.kind not in {"student_number", "id_number"} or not clean_name:
        return None
    return person_q(term, prefix) & Q(**{f"{prefix}name": clean_name})


def enrollment_q(term: Term, paths: list[str]) -> Q:
    """The filter of ``term`` on enrollments seen from the region ``paths`` (the viewer's scope paths, which the
    caller applies as well). Names on PostgreSQL: one token per path, combined with OR."""
    if term.kind != "name" or connection.vendor != "postgresql":
        return person_q(term, "person__")
    if not paths:
        return Q(pk__in=[])
    parts = name_parts(term.value)
    q = Q()
    for path in paths:
        q |= Q(_HasTokens([f"{path}|{part}" for part in parts]))
    if len(term.value) >= 3:
        q &= Q(person__name__contains=term.value)
    return q
