"""Issue 10 §1 ("each table with … an .xlsx export of the same numbers") on the approval path of 第24条 (issue 11
§4): the statistics page's 申请导出 buttons open the request form prefilled with the table's unit, dimension,
split, grade and months; a request for the page's exact numbers that the approver explicitly approves (with the
second factor) is built as the page's table — every number equal to ``GET /api/v1/statistics/counts`` and
``…/flows`` for the same unit and breakdown, no small-cell suppression, the months asked for, the page's rows in
the page's order. De-identified stays the default: without the approver's opt-in the same request is built with
cells below the threshold hidden and flows widened to whole years.

§5 (rosters): an approved identified roster keeps 学籍号 masked even for the school's own registrar, who sees the
full numbers on screen — a G 学籍号 is "G" + the ID number (docs/exports.md)."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.exports.conftest import basis
from tests.exports.helpers import approve_and_build, download, notes, request, sheet_rows
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.core.errors import FieldError
from xueji.exports import crypto, deidentify
from xueji.exports.enums import State
from xueji.exports.models import ExportRequest
from xueji.imports.queries import full_number_schools
from xueji.statistics.models import FlowCell, FlowKind, Snapshot, StatRollup
from xueji.statistics.services import snapshot_rebuild

pytestmark = pytest.mark.django_db

COUNTS = "/api/v1/statistics/counts"
FLOWS = "/api/v1/statistics/flows"


# ------------------------------------------------------------------------------------------ helpers
def _logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _verified(user: Any) -> Client:
    """A session that passed the second factor (a TOTP device set up and confirmed), as test_review does."""
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": f.PASSWORD}).status_code == 302
    assert client.get("/mfa/setup/").status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post("/mfa/setup/", {"token": f"{totp(device.bin_key):06d}"}).status_code == 200
    return client


def _button(page: str, testid: str) -> str:
    """The href of the statistics page's 申请导出 button ``data-testid=testid``."""
    found = re.search(r'<a [^>]*href="([^"]+)"[^>]*data-testid="' + re.escape(testid) + '"', page)
    assert found, testid
    return html.unescape(found.group(1))


def _at_rest(export: ExportRequest) -> bytes:
    """The stored file decrypted with its unwrapped key (the request id as associated data)."""
    aad = str(export.pk).encode()
    key = crypto.unwrap(bytes(export.wrapped_key), aad)
    out = io.BytesIO()
    crypto.decrypt_file(Path(settings.VAR_DIR) / export.file_path, out, key, aad)
    return out.getvalue()


def _api_counts(client: Client, **params: Any) -> dict[str, Any]:
    answer = client.get(COUNTS, {k: v for k, v in params.items() if v is not None})
    assert answer.status_code == 200, answer.content
    return answer.json()


def _expected_counts(api: dict[str, Any], title: str, part_labels: list[str]) -> list[list[Any]]:
    """The page's table built from the API alone: header, one row per API row in its order, 合计."""
    keys = list(api["rows"][0]["parts"]) if api["rows"] and api["split"] else []
    assert len(keys) == len(part_labels)
    rows: list[list[Any]] = [[title, *part_labels, "人数"]]
    rows += [[r["label"], *(r["parts"][k] for k in keys), r["count"]] for r in api["rows"]]
    rows.append(["合计", *(sum(r["parts"][k] for r in api["rows"]) for k in keys), api["total"]])
    return rows


def _expected_flows(api: dict[str, Any]) -> list[list[Any]]:
    keys = [k["key"] for k in api["kinds"]]
    rows: list[list[Any]] = [["月份", *(k["label"] for k in api["kinds"])]]
    rows += [[m["month"], *(m["counts"][k] for k in keys)] for m in api["months"]]
    rows.append(["合计", *(k["total"] for k in api["kinds"])])
    return rows


def _page_parts(page: str, by: str) -> list[str]:
    """The split's column titles of the page's table ``stat-table-<by>``."""
    table = page.split(f'id="stat-table-{by}"', 1)[1].split("</thead>", 1)[0]
    return [html.unescape(t) for t in re.findall(r'<th class="num" data-part="[^"]+">([^<]+)</th>', table)]


def _page_labels(page: str, by: str) -> list[str]:
    """The row labels of the page's table, in the page's order."""
    body = page.split(f'id="stat-table-{by}"', 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r'<th scope="row">(.*?)</th>', body, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def _flow_cells(school: Any, cells: dict[tuple[int, str], int]) -> None:
    for (month, kind), n in cells.items():
        FlowCell.objects.create(
            month=date(2026, month, 1), school_id=school.pk, scope_path=school.org.path, kind=kind, count=n
        )


# ------------------------------------------------------------------------------------------ the full path
@pytest.mark.mfa
def test_page_button_to_exact_file_equals_the_api(
    registrar_a, school_a, county_approver, pupils, settings
) -> None:
    """第24条 with issue 10 §1: page button → prefilled form → request for exact numbers → the approver opts in
    with a verified second factor → queued build → download (second factor) → every number equals the API's."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    snapshot_rebuild()
    requester = _verified(registrar_a)
    page = requester.get(reverse("statistics:overview"), {"unit": school_a.org.pk}).content.decode()
    link = _button(page, "export-grade")
    form = requester.get(link).content.decode()
    assert f'<option value="{school_a.org.pk}" selected>' in form
    assert re.search(r'name="fields_" value="grade"[^>]*checked', form)
    assert re.search(r'name="fields_" value="gender"[^>]*checked', form)
    assert 'name="identified"' in form and "精确数字" in form  # offered to the requester, not ticked
    assert not re.search(r'<input[^>]*name="identified"[^>]*checked', form)
    data = {k: str(v) for k, v in basis().items()}
    data |= {"source": "statistics", "unit": school_a.org.pk, "fields_": ["grade", "gender"]}
    data |= {"identified": "on", "action": "submit"}
    answer = requester.post(reverse("exports:new"), data)
    assert answer.status_code == 302, answer.content.decode()
    export = ExportRequest.objects.get()
    assert export.identified and export.state == State.SUBMITTED
    assert export.filters == {"grade": None, "as_of": Snapshot.objects.get().as_of.isoformat()}

    approver = _verified(county_approver)
    detail = approver.get(reverse("exports:detail", args=[export.pk])).content.decode()
    assert "批准导出精确统计数" in detail and "申请精确统计数" in detail
    approved = approver.post(
        reverse("exports:approve", args=[export.pk]), {"note": "同意", "identified": "on"}
    )
    assert approved.status_code == 302
    assert run_queued_tasks() == ["SUCCESSFUL"]
    export.refresh_from_db()
    assert export.state == State.READY and export.approved_identified and export.suppressed == 0

    file = requester.get(reverse("exports:download", args=[export.pk]))
    assert file.status_code == 200
    data_bytes = b"".join(file.streaming_content)
    assert data_bytes == _at_rest(export)  # what was stored encrypted is what the requester got
    api = _api_counts(requester, unit=school_a.org.pk, by="grade", split="gender")
    rows = sheet_rows(data_bytes)
    assert rows == _expected_counts(api, "年级", _page_parts(page, "grade"))
    assert [r[0] for r in rows[1:-1]] == _page_labels(page, "grade")  # the page's rows, in its order
    assert any(isinstance(v, int) and 0 < v < deidentify.cell_threshold() for r in rows for v in r)
    explained = notes(data_bytes)
    assert "未做小单元格抑制" in explained["去标识化处理"] and explained["隐藏的记录或单元格"] == "0"
    assert explained["统计日期"] == api["as_of"]


@pytest.mark.parametrize(
    "case",
    [
        ("gender", None, None, "性别"),
        ("status", None, None, "学籍状态"),
        ("stage", None, None, "学段"),
        ("disabled", None, None, "残疾情况"),
        ("class", "gender", 1, "班级（一年级）"),
    ],
)
def test_every_exact_table_of_a_school_equals_the_api(
    registrar_a, school_a, county_approver, pupils, case: tuple[str, str | None, int | None, str]
) -> None:
    by, split, grade, title = case
    snapshot_rebuild()
    fields = [by, split] if split else [by]
    export = request(
        registrar_a,
        school_a.org,
        source="statistics",
        fields=fields,
        filters={"grade": grade},
        identified=True,
    )
    export, _key = approve_and_build(export, county_approver, identified=True)
    assert export.approved_identified and export.state == State.READY
    client = _logged_in(registrar_a)
    api = _api_counts(client, unit=school_a.org.pk, by=by, split=split, grade=grade)
    page = client.get(reverse("statistics:overview"), {"unit": school_a.org.pk, "grade": grade or ""})
    parts = _page_parts(page.content.decode(), by) if split else []
    rows = sheet_rows(download(export))
    assert rows == _expected_counts(api, title, parts)
    direct = [e for e in _enrollments(school_a) if grade is None or e.grade == grade]
    assert rows[-1][-1] == len(direct) > 0  # the total is the count of the records behind it


def test_exact_region_table_of_a_county_equals_the_api(
    county_registrar, school_a, school_b, city_approver, pupils
) -> None:
    """A county's table by 下级单位: every child unit, zero rows kept, in the page's order."""
    f.school("440105", "primary", name="海珠区第二小学")
    snapshot_rebuild()
    county = f.dept("440105")
    export = request(county_registrar, county, source="statistics", fields=["region"], identified=True)
    export, _key = approve_and_build(export, city_approver, identified=True)
    client = _logged_in(county_registrar)
    api = _api_counts(client, unit=county.pk, by="region")
    rows = sheet_rows(download(export))
    assert rows == _expected_counts(api, "下级单位", [])
    assert 0 in [r[-1] for r in rows[1:-1]] and rows[-1][-1] == 12
    page = client.get(reverse("statistics:overview"), {"unit": county.pk}).content.decode()
    assert [r[0] for r in rows[1:-1]] == _page_labels(page, "region")


def test_exact_flows_are_the_months_asked_for(school_a, county_registrar, city_approver) -> None:
    _flow_cells(
        school_a,
        {(1, "transfer_in"): 40, (2, "transfer_in"): 3, (2, "transfer_out"): 25, (3, "suspension"): 1},
    )
    county = f.dept("440105")
    export = request(
        county_registrar,
        county,
        source="flows",
        fields=["transfer_in"],
        filters={"from": "2026-02", "to": "2026-04"},
        identified=True,
    )
    # the approver sees both: the months asked for, and the whole year a de-identified file would cover
    assert export.filters == {
        "from": "2026-01",
        "to": "2026-12",
        "exact_from": "2026-02",
        "exact_to": "2026-04",
    }
    page = _logged_in(city_approver).get(reverse("exports:detail", args=[export.pk])).content.decode()
    assert "2026-02 至 2026-04" in page and "2026-01 至 2026-12（按整年）" in page
    export, _key = approve_and_build(export, city_approver, identified=True)
    api = _logged_in(county_registrar).get(FLOWS, {"unit": county.pk, "from": "2026-02", "to": "2026-04"})
    assert api.status_code == 200
    rows = sheet_rows(download(export))
    assert rows == _expected_flows(api.json())
    assert [r[0] for r in rows[1:]] == ["2026-02", "2026-03", "2026-04", "合计"]  # not widened
    assert rows[1][1] == 3 and rows[2][3] == 1  # small cells shown as they are
    assert export.suppressed == 0 and notes(download(export))["统计期间"] == "2026-02 至 2026-04"


# ------------------------------------------------------------------------------------------ default
def test_without_the_opt_in_small_cells_are_hidden(registrar_a, school_a, county_approver, pupils) -> None:
    """The same request for exact numbers, approved without the opt-in: de-identified (第24条 脱敏)."""
    snapshot_rebuild()
    threshold = deidentify.cell_threshold()
    export = request(
        registrar_a, school_a.org, source="statistics", fields=["grade", "gender"], identified=True
    )
    export, _key = approve_and_build(export, county_approver)  # the approver did not tick the box
    assert not export.approved_identified and export.suppressed > 0
    api = _api_counts(_logged_in(registrar_a), unit=school_a.org.pk, by="grade", split="gender")
    keys = list(api["rows"][0]["parts"])
    rows = sheet_rows(download(export))
    assert rows[0][:2] == ["年级", "人数"]  # the de-identified layout: total first, then the split
    small = 0
    for row, source in zip(rows[1:-1], api["rows"], strict=True):
        assert row[0] == source["label"]
        for shown, real in zip(row[1:], [source["count"], *(source["parts"][k] for k in keys)], strict=True):
            if real < threshold:
                assert shown == deidentify.suppressed_label()
                small += 1
            else:
                assert shown in (real, deidentify.COMPLEMENTARY)
    assert small > 0  # the fixture has cells below the threshold, and none is shown
    assert "少于" in notes(download(export))["去标识化处理"]


def test_flows_without_the_opt_in_are_whole_years(school_a, county_registrar, city_approver) -> None:
    _flow_cells(school_a, {(2, "transfer_in"): 3, (3, "transfer_in"): 40, (3, "transfer_out"): 30})
    export = request(
        county_registrar,
        f.dept("440105"),
        source="flows",
        fields=["transfer_in"],
        filters={"from": "2026-02", "to": "2026-03"},
        identified=True,
    )
    export, _key = approve_and_build(export, city_approver, identified=False)
    rows = sheet_rows(download(export))
    assert [r[0] for r in rows[1:]] == [f"2026-{m:02d}" for m in range(1, 13)] + ["合计"]
    assert rows[2][2] == deidentify.suppressed_label()  # February's 3 transfers in
    assert rows[0][:3] == ["月份", "人数", str(FlowKind.TRANSFER_IN.label)]


# ------------------------------------------------------------------------------------------ as of a date
def test_the_request_pins_the_snapshot_date(registrar_a, school_a, county_approver, pupils) -> None:
    """The table approved is the table of the request's snapshot date; a date before every snapshot is refused
    naming the field; a pinned snapshot no longer kept fails the build — never another date's numbers."""
    today = timezone.localdate()
    snapshot_rebuild(today - timedelta(days=1))
    snapshot_rebuild(today)
    client = _logged_in(registrar_a)
    prefilled = client.get(
        reverse("exports:new"),
        {"source": "statistics", "unit": school_a.org.pk, "by": "gender", "as_of": str(today)},
    ).content.decode()
    assert f'name="as_of" value="{today}"' in prefilled
    with pytest.raises(FieldError) as refused:
        request(
            registrar_a, school_a.org, source="statistics", fields=["gender"], filters={"as_of": "2001-01-01"}
        )
    assert refused.value.fields and "as_of" in refused.value.fields
    yesterday = str(today - timedelta(days=1))
    export = request(
        registrar_a, school_a.org, source="statistics", fields=["gender"], filters={"as_of": yesterday}
    )
    assert export.filters["as_of"] == yesterday
    # yesterday's figures differ from today's (two more boys then): the pinned export gives yesterday's
    StatRollup.objects.filter(
        as_of=today - timedelta(days=1), unit_id=school_a.org.pk, dim="gender", key="1"
    ).update(count=F("count") + 2)
    pinned = request(
        registrar_a,
        school_a.org,
        source="statistics",
        fields=["gender"],
        filters={"as_of": yesterday},
        identified=True,
    )
    pinned, _key = approve_and_build(pinned, county_approver, identified=True)
    today_boys = _api_counts(client, unit=school_a.org.pk, by="gender")["rows"][0]
    rows = sheet_rows(download(pinned))
    assert rows[1][0] == today_boys["label"] and rows[1][1] == today_boys["count"] + 2
    assert notes(download(pinned))["统计日期"] == yesterday
    Snapshot.objects.filter(as_of=today - timedelta(days=1)).delete()  # pruned before the build
    failed = approve_and_build(export, county_approver)[0]
    assert failed.state == State.FAILED and "不再保留" in failed.message
    assert not failed.file_path


# ------------------------------------------------------------------------------------------ §5 rosters
def test_identified_roster_masks_student_numbers_even_for_the_school_registrar(
    registrar_a, school_a, county_approver, pupils
) -> None:
    """The school's own registrar sees full 学籍号 on screen (imports.queries.full_number_schools), yet the
    approved identified file masks them: a G 学籍号 carries the ID number, which never leaves (第24条)."""
    assert school_a.pk in full_number_schools(registrar_a)
    export = request(registrar_a, school_a.org, fields=["student_number", "name"], identified=True)
    export, _key = approve_and_build(export, county_approver, identified=True)
    rows = sheet_rows(download(export))
    numbers = [r[0] for r in rows[1:]]
    full = {p.student_number for p in (e.person for e in _enrollments(school_a))}
    assert numbers and all("*" in n for n in numbers) and not full & set(numbers)


def _enrollments(school: Any) -> list[Any]:
    from xueji.students.models import Enrollment

    return list(Enrollment.objects.filter(school=school, is_active=True).select_related("person"))
