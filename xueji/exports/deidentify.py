"""De-identification of exports (第24条 脱敏/匿名化; GB/T 37964-2019; security.md §2.3). Pure functions.

Microdata (rosters):

* direct identifiers — 姓名, 学籍号, 身份证件号, 班内学号 — are dropped; each record carries instead a keyed
  pseudonym ``HMAC-SM3(k_export, person id)`` (:func:`xueji.exports.crypto.pseudonym`), stable within one
  export and unrelated across exports (each export has its own key, destroyed once the file is written);
* quasi-identifiers are generalised: birth date → year, registration time → year and month, school → its
  county when the request asks for it;
* k-anonymity: every combination of the exported quasi-identifiers is shared by at least ``k`` records
  (``XUEJI_EXPORT_K``, default 10, never below 5); records in smaller classes are suppressed (record
  suppression), so no row of the file stands out.

Aggregates (statistics):

* every cell below ``XUEJI_EXPORT_MIN_CELL`` (default 10) — margins and totals included — is suppressed
  (primary suppression) and shown as ``<10``;
* complementary suppression: further cells are hidden — shown as ``*`` (:data:`COMPLEMENTARY`), since their
  values may well be large — until no suppressed value can be recomputed from the totals — checked exactly,
  by linear algebra over the table's additive equations (:func:`recoverable`) — and, in every line (row or
  column) whose total is shown, the hidden cells add up to at least the threshold (else ``[50, 1, 0]`` with its
  total 51 would tell that the two hidden cells hold one person between them).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from django.conf import settings

#: Roster columns that name a person directly: never in a de-identified file.
DIRECT_IDENTIFIERS = frozenset({"student_number", "name", "id_number", "class_number"})
#: Where a de-identified file puts the keyed pseudonym.
PSEUDONYM_COLUMN = "pseudonym"

SUPPRESSED = "<10"
#: How a complementary suppression shows: a neutral mark (the hidden value is not necessarily small).
COMPLEMENTARY = "*"


def k_threshold() -> int:
    """k of the k-anonymity of microdata: ``XUEJI_EXPORT_K`` (default 10), at least 5 (security.md §2.3)."""
    return max(int(getattr(settings, "XUEJI_EXPORT_K", 10)), 5)


def cell_threshold() -> int:
    """Aggregate cells below this are suppressed: ``XUEJI_EXPORT_MIN_CELL`` (default 10), at least 5."""
    return max(int(getattr(settings, "XUEJI_EXPORT_MIN_CELL", 10)), 5)


def suppressed_label() -> str:
    return f"<{cell_threshold()}"


def generalise(key: str, value: Any) -> Any:
    """A quasi-identifier's value as a de-identified file shows it."""
    if value is None:
        return None
    if key == "birth_date" and isinstance(value, date):
        return value.year
    if key == "registered_at" and isinstance(value, datetime | date):
        return f"{value:%Y-%m}"
    return value


# ------------------------------------------------------------------------------------------ aggregates
Entry = tuple[Hashable, ...]


@dataclass
class Table:
    """An additive table: interior cells ``("c", i, j)``; with more than one column, row totals ``("r", i)``;
    column totals ``("k", j)`` and the grand total ``("t",)``. ``equations`` hold each margin as (members,
    total): the sum of the members equals the total."""

    values: dict[Entry, int]
    equations: list[tuple[list[Entry], Entry]] = field(default_factory=list)

    @classmethod
    def of(cls, matrix: Sequence[Sequence[int]]) -> Table:
        n_rows = len(matrix)
        n_cols = len(matrix[0]) if matrix else 1
        values: dict[Entry, int] = {}
        equations: list[tuple[list[Entry], Entry]] = []
        for i, row in enumerate(matrix):
            for j, n in enumerate(row):
                values[("c", i, j)] = int(n)
        if n_cols == 1:
            values[("t",)] = sum(values[("c", i, 0)] for i in range(n_rows))
            equations.append(([("c", i, 0) for i in range(n_rows)], ("t",)))
            return cls(values, equations)
        for i in range(n_rows):
            values[("r", i)] = sum(values[("c", i, j)] for j in range(n_cols))
            equations.append(([("c", i, j) for j in range(n_cols)], ("r", i)))
        for j in range(n_cols):
            values[("k", j)] = sum(values[("c", i, j)] for i in range(n_rows))
            equations.append(([("c", i, j) for i in range(n_rows)], ("k", j)))
        values[("t",)] = sum(values[("r", i)] for i in range(n_rows))
        equations.append(([("r", i) for i in range(n_rows)], ("t",)))
        equations.append(([("k", j) for j in range(n_cols)], ("t",)))
        return cls(values, equations)


def _rref(rows: list[list[Fraction]]) -> list[tuple[int, list[Fraction]]]:
    """Reduced row echelon form: (pivot column, row) pairs."""
    pivots: list[tuple[int, list[Fraction]]] = []
    for raw in rows:
        row = list(raw)
        for col, prow in pivots:
            if row[col]:
                factor = row[col]
                row = [a - factor * b for a, b in zip(row, prow, strict=True)]
        lead = next((c for c, a in enumerate(row) if a), None)
        if lead is None:
            continue
        scale = row[lead]
        row = [a / scale for a in row]
        reduced = []
        for col, prow in pivots:
            factor = prow[lead]
            reduced.append(
                (col, [a - factor * b for a, b in zip(prow, row, strict=True)] if factor else prow)
            )
        pivots = [*reduced, (lead, row)]
    return pivots


def recoverable(table: Table, hidden: set[Entry]) -> set[Entry]:
    """The hidden entries whose exact value follows from the shown ones through the table's equations: an
    unknown is determined iff its unit vector lies in the row space of the equations over the unknowns."""
    unknowns = sorted(hidden, key=repr)
    index = {e: n for n, e in enumerate(unknowns)}
    rows: list[list[Fraction]] = []
    for members, total in table.equations:
        coeffs = [Fraction(0)] * len(unknowns)
        for e in members:
            if e in index:
                coeffs[index[e]] += 1
        if total in index:
            coeffs[index[total]] -= 1
        if any(coeffs):
            rows.append(coeffs)
    basis = _rref(rows)
    found = set()
    for e, n in index.items():
        vector = [Fraction(0)] * len(unknowns)
        vector[n] = Fraction(1)
        for col, prow in basis:
            if vector[col]:
                factor = vector[col]
                vector = [a - factor * b for a, b in zip(vector, prow, strict=True)]
        if not any(vector):
            found.add(e)
    return found


def primary(table: Table, threshold: int | None = None) -> set[Entry]:
    """The entries below ``threshold``: primary suppressions (shown as ``<10``)."""
    limit = cell_threshold() if threshold is None else threshold
    return {e for e, n in table.values.items() if n < limit}


def thin_lines(table: Table, hidden: set[Entry], limit: int) -> list[list[Entry]]:
    """The lines (equations) whose total is shown but whose hidden members add up to less than ``limit``
    (between one and ``limit - 1`` people, or none at all, would follow from the line)."""
    out = []
    for members, total in table.equations:
        inside = [e for e in members if e in hidden]
        if inside and total not in hidden and sum(table.values[e] for e in inside) < limit:
            out.append(members)
    return out


def _smallest(candidates: Iterable[Entry], table: Table) -> Entry | None:
    # prefer interior cells, then the smallest value (the least information lost)
    ranked = sorted(candidates, key=lambda e: (e[0] != "c", table.values[e], repr(e)))
    return ranked[0] if ranked else None


def suppress(table: Table, threshold: int | None = None) -> set[Entry]:
    """The entries to hide: every entry below ``threshold`` (primary), then complementary suppressions until
    no hidden entry can be recomputed (:func:`recoverable` is empty)."""
    limit = cell_threshold() if threshold is None else threshold
    hidden = primary(table, limit)
    if not hidden:
        return hidden
    while True:
        for members in thin_lines(table, hidden, limit):  # a line's hidden cells sum to at least the limit
            while sum(table.values[e] for e in members if e in hidden) < limit:
                pick = _smallest([e for e in members if e not in hidden], table)
                if pick is None:  # cannot happen: the shown total equals the sum, and it is ≥ the limit
                    break
                hidden.add(pick)
        changed = True
        while changed:  # cheap pass: no equation with exactly one hidden entry
            changed = False
            for members, total in table.equations:
                line = [*members, total]
                if sum(1 for e in line if e in hidden) == 1:
                    pick = _smallest([e for e in line if e not in hidden], table)
                    if pick is not None:
                        hidden.add(pick)
                        changed = True
        exposed = recoverable(table, hidden)
        if not exposed and not thin_lines(table, hidden, limit):
            return hidden
        if not exposed:
            continue
        target = sorted(exposed, key=repr)[0]
        lines = [[*m, t] for m, t in table.equations if target in m or target == t]
        lines.sort(key=lambda line: sum(1 for e in line if e in hidden))
        pick = None
        for line in lines:
            pick = _smallest([e for e in line if e not in hidden], table)
            if pick is not None:
                break
        if pick is None:  # every entry of its lines hidden already: hide what is left
            rest = [e for e in table.values if e not in hidden]
            if not rest:
                return hidden
            pick = _smallest(rest, table)
            assert pick is not None
        hidden.add(pick)
