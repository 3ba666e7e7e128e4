"""security.md test 19 (第24条 脱敏; GB/T 37964): a de-identified roster holds no valid ID number, no 学籍号, no
phone number and no canary name; every class of the declared quasi-identifiers has at least k records;
pseudonyms are keyed, stable within one export and different across exports; every aggregate cell below the
threshold is hidden and none can be recomputed from the margins."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from typing import Any

import gmssl_pyx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.exports.conftest import CANARIES, ROSTER_FIELDS
from tests.exports.helpers import (
    all_text,
    approve_and_build,
    determined,
    download,
    leaks,
    notes,
    request,
    sheet_rows,
    table_equations,
)
from tests.factories import core as f
from xueji.core.masking import mask_student_number
from xueji.exports import crypto, deidentify
from xueji.exports.enums import State
from xueji.statistics.models import FlowCell, FlowKind
from xueji.statistics.services import snapshot_rebuild

pytestmark = pytest.mark.django_db
K = 5  # the fixtures' k (conftest)


def build_roster(registrar: Any, unit: Any, approver: Any, fields: list[str] | None = None, **kw: Any) -> Any:
    export = request(registrar, unit, fields=fields or ROSTER_FIELDS, **kw)
    export, key = approve_and_build(export, approver)
    return export, key, download(export)


def test_scanner_catches_identified_data(registrar_a, school_a, county_approver, pupils) -> None:
    """The scan is not vacuous: an identified roster (approved as such) shows the canary names — but its
    学籍号 (which embeds the 18-digit ID number) and ID numbers only masked, as the notes say."""
    fields = ["student_number", "name", "id_number", "gender"]
    export = request(registrar_a, school_a.org, fields=fields, identified=True)
    export, _key = approve_and_build(export, county_approver, identified=True)
    assert export.approved_identified and export.state == State.READY
    data = download(export)
    found = leaks(data, CANARIES)
    assert set(CANARIES) <= set(found)
    text = all_text(data)
    for pupil in pupils:
        person = pupil.person
        assert person.student_number not in text and person.id_number not in text
        assert mask_student_number(person.student_number) in text
    assert not [m for m in found if m not in CANARIES]  # no full number of any kind
    assert "学籍号和身份证件号一律脱敏" in notes(data)["去标识化处理"]


def test_identified_request_narrowed_by_the_approver(registrar_a, school_a, county_approver, pupils) -> None:
    export = request(registrar_a, school_a.org, fields=["name", "gender"], identified=True)
    export, _key = approve_and_build(export, county_approver, identified=False)
    assert not export.approved_identified
    assert leaks(download(export), CANARIES) == []


def test_deidentified_roster_has_no_identifier(registrar_a, school_a, county_approver, pupils) -> None:
    _export, _key, data = build_roster(registrar_a, school_a.org, county_approver)
    assert leaks(data, CANARIES) == []
    text = all_text(data)
    for pupil in pupils:
        person = pupil.person
        assert person.id_number not in text and person.id_number[-6:] not in text
        assert person.student_number not in text and person.phone not in text
        assert person.birth_date.isoformat() not in text  # generalised to the year
    header = sheet_rows(data)[0]
    assert header == ["假名编号", "性别", "出生年份", "年级", "班级"]  # direct identifiers dropped


def test_k_anonymity_on_the_declared_quasi_identifiers(
    registrar_a, school_a, county_approver, pupils
) -> None:
    export, _key, data = build_roster(registrar_a, school_a.org, county_approver)
    rows = sheet_rows(data)[1:]
    classes = Counter(tuple(r[1:]) for r in rows)  # every column but the pseudonym is a quasi-identifier
    assert min(classes.values()) >= K
    assert len(rows) == 11 and export.suppressed == 1  # the girl alone in 三年级 2班 is suppressed
    assert export.row_count == 11
    assert "k-匿名" in notes(data)["去标识化处理"]


def test_k_is_never_below_five(settings) -> None:
    settings.XUEJI_EXPORT_K = 2
    assert deidentify.k_threshold() == 5
    settings.XUEJI_EXPORT_K = 12
    assert deidentify.k_threshold() == 12


def test_school_generalised_to_county(county_registrar, school_a, city_approver, pupils) -> None:
    _export, _key, data = build_roster(
        county_registrar,
        f.dept("440105"),
        city_approver,
        fields=["school", "school_code", "gender"],
        generalise_school=True,
    )
    rows = sheet_rows(data)
    assert rows[0] == ["假名编号", "性别", "所在区县"]
    assert school_a.name not in all_text(data) and school_a.school_code not in all_text(data)
    assert {r[2] for r in rows[1:]} == {school_a.org.parent.name}


def test_pseudonyms_keyed_stable_within_and_different_across_exports(
    registrar_a, school_a, county_approver, pupils
) -> None:
    first, key1, data1 = build_roster(registrar_a, school_a.org, county_approver)
    second, key2, data2 = build_roster(registrar_a, school_a.org, county_approver)
    assert key1 and key2 and key1 != key2
    first.refresh_from_db()
    assert first.pseudonym_key is None and second.pseudonym_key is None  # destroyed once the file is written
    kept = [p for p in pupils if p.grade == 1]
    names1 = [r[0] for r in sheet_rows(data1)[1:]]
    names2 = [r[0] for r in sheet_rows(data2)[1:]]
    # stable within one export key: the file's pseudonyms are HMAC(k1, person) of exactly the kept pupils
    assert sorted(names1) == sorted(crypto.pseudonym(key1, str(p.person_id)) for p in kept)
    assert len(set(names1)) == len(names1) == 11
    assert crypto.pseudonym(key1, str(kept[0].person_id)) == crypto.pseudonym(key1, str(kept[0].person_id))
    # different across keys
    assert not set(names1) & set(names2)
    # no unkeyed hash of any identifier anywhere in the file
    text = all_text(data1)
    for pupil in pupils:
        for value in (str(pupil.person_id), pupil.person.student_number, pupil.person.id_number):
            for digest in (
                hashlib.sha256(value.encode()).hexdigest(),
                bytes(gmssl_pyx.sm3_hash(value.encode())).hex(),
            ):
                assert digest[:12].lower() not in text.lower() and digest[:12].upper() not in text


def test_watermark_and_notes(registrar_a, school_a, county_approver, pupils) -> None:
    export, _key, data = build_roster(registrar_a, school_a.org, county_approver)
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(data))
    for ws in wb.worksheets:
        assert str(export.pk) in ws.oddHeader.center.text and str(registrar_a) in ws.oddFooter.center.text
    info = notes(data)
    assert info["申请编号"] == str(export.pk) and info["审批人"] == str(county_approver)
    assert info["批准文号"] == export.document_number and info["用途"] == export.purpose
    assert info["接收方"] == export.recipient and "海珠区人民政府" in info["批准机关"]


# ------------------------------------------------------------------------------------------ aggregates
def _all_hidden_below(rows: list[list[Any]], threshold: int) -> bool:
    return all(isinstance(v, str) or v >= threshold for r in rows[1:] for v in r[1:])


def test_statistics_small_cells_hidden_and_not_recoverable(
    registrar_a, school_a, county_approver, pupils
) -> None:
    snapshot_rebuild()
    export = request(registrar_a, school_a.org, source="statistics", fields=["grade", "gender"])
    export, _key = approve_and_build(export, county_approver)
    data = download(export)
    rows = sheet_rows(data)
    assert rows[0][:2] == ["年级", "人数"]
    assert _all_hidden_below(rows, 10)
    equations, values = table_equations(rows, multi=True)
    assert any(v is None for v in values.values())
    assert determined(equations, values) == set()
    assert export.suppressed == sum(1 for v in values.values() if v is None)


@pytest.mark.usefixtures("pupils")
def test_statistics_one_dimension_and_flows(
    registrar_a, school_a, county_registrar, county_approver, city_approver
) -> None:
    snapshot_rebuild()
    export = request(registrar_a, school_a.org, source="statistics", fields=["grade"])
    export, _key = approve_and_build(export, county_approver)
    rows = sheet_rows(download(export))
    assert _all_hidden_below(rows, 10)
    equations, values = table_equations(rows, multi=False)
    assert determined(equations, values) == set()
    # real, nonzero flows: 2026-01 转入 30 / 转出 2; 2026-02 转入 12 / 转出 25; 2026-03 毕业 60
    cells = {(1, "transfer_in"): 30, (1, "transfer_out"): 2, (2, "transfer_in"): 12, (2, "transfer_out"): 25}
    cells[(3, "graduation")] = 60
    for (month, kind), n in cells.items():
        FlowCell.objects.create(
            month=date(2026, month, 1),
            school_id=school_a.pk,
            scope_path=school_a.org.path,
            kind=kind,
            count=n,
        )
    flows = request(
        county_registrar,
        f.dept("440105"),
        source="flows",
        fields=["transfer_in", "transfer_out"],
        filters={"from": "2026-01", "to": "2026-03"},
    )
    flows, _key = approve_and_build(flows, city_approver)
    rows = sheet_rows(download(flows))
    assert [r[0] for r in rows[1:]] == [f"2026-{m:02d}" for m in range(1, 13)] + ["合计"]
    assert rows[0] == ["月份", "人数", *(str(k.label) for k in FlowKind)]
    total = rows[-1]
    assert total[1] == 129 and total[2] == 42 and total[-1] == 60  # shown, from real data
    assert rows[1][3] == "<10"  # January's 2 transfers out …
    assert rows[2][3] == deidentify.COMPLEMENTARY  # … so February's 25 is hidden too, not labelled "<10"
    assert flows.row_count == 13 and flows.suppressed > 0
    assert _all_hidden_below(rows, 10)
    equations, values = table_equations(rows, multi=True)
    assert determined(equations, values) == set()


@hsettings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=4).map(tuple),
        min_size=1,
        max_size=6,
    ).filter(lambda rows: len({len(r) for r in rows}) == 1)
)
def test_suppression_of_random_tables(matrix: list[tuple[int, ...]]) -> None:
    """Any table: every entry below 10 (margins included) hidden, and no hidden entry recoverable — checked by
    the independent elimination of the test helpers, not the product's."""
    table = deidentify.Table.of([list(r) for r in matrix])
    hidden = deidentify.suppress(table, 10)
    assert all(e in hidden for e, v in table.values.items() if v < 10)
    names = {e: "_".join(map(str, e)) for e in table.values}
    values = {names[e]: (None if e in hidden else v) for e, v in table.values.items()}
    equations = [([names[m] for m in members], names[total]) for members, total in table.equations]
    assert determined(equations, values) == set()
