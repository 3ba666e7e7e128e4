"""Refusals added after review (第24条 谁批准谁负责, 脱敏): the download and the build check again what was
approved and who may take it; small-cell suppression labels and hidden sums; flows always whole years and every
kind; openpyxl's plaintext spill files stay under the exports directory; the export key is explicit in
production; identified exports mask 学籍号; the approver stands above every grant of the requester; identified
output only when the approver opts in; roster size capped; expiry spares a build in progress."""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.exports.conftest import CANARIES, basis
from tests.exports.helpers import (
    approve_and_build,
    determined,
    download,
    notes,
    request,
    sheet_rows,
    table_equations,
)
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.exports import deidentify, queries, services
from xueji.exports.enums import State
from xueji.exports.models import ExportRequest
from xueji.imports.export import roster_columns
from xueji.statistics.models import FlowCell, FlowKind

pytestmark = pytest.mark.django_db


def _fresh(user: Any) -> Any:
    """The user as a new request would load it (no grants cached on the instance)."""
    return type(user).objects.get(pk=user.pk)


# ------------------------------------------------------------------------------------------ 1. jurisdiction
def test_download_refused_after_the_requester_lost_the_grant(
    registrar_a, school_a, county_approver, pupils
) -> None:
    export, _key = approve_and_build(
        request(registrar_a, school_a.org, fields=["name", "gender"], identified=True),
        county_approver,
        identified=True,
    )
    assert export.state == State.READY
    RoleGrant.objects.filter(user=registrar_a).delete()
    requester = _fresh(registrar_a)
    mine = queries.own_export(viewer=requester, export_id=export.pk)  # still their request, to see
    with pytest.raises(NotFound):
        services.export_download(actor=requester, export=mine, second_factor=True)
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()
    client = Client()
    client.force_login(requester)
    assert client.get(f"/api/v1/exports/{export.pk}/file").status_code == 404


# ------------------------------------------------------------------------------------------ 2. signed approval
def test_build_fails_when_the_request_changed_after_approval(
    registrar_a, school_a, county_approver, pupils
) -> None:
    export = request(registrar_a, school_a.org, fields=["gender"])
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    ExportRequest.objects.filter(pk=export.pk).update(
        fields=["name", "gender"], identified=True, approved_identified=True
    )
    run_queued_tasks()
    export.refresh_from_db()
    assert export.state == State.FAILED and not export.file_path and export.pseudonym_key is None
    assert "签名核验未通过" in export.message
    failed = AuditEvent.objects.get(event_type="export.build_failed")
    assert failed.after["reason"] == "export_approval_invalid" and failed.subject_id == str(export.pk)
    directory = services.exports_dir()
    assert [p for p in directory.iterdir() if p.is_file()] == []


def test_download_refused_when_the_approval_no_longer_verifies(
    registrar_a, school_a, county_approver, pupils
) -> None:
    export, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    assert download(export).startswith(b"PK")
    ExportRequest.objects.filter(pk=export.pk).update(purpose="另一个用途")
    export.refresh_from_db()
    with pytest.raises(Forbidden) as refused:
        download(export)
    assert refused.value.code == "export_approval_invalid"
    assert AuditEvent.objects.filter(event_type="export.downloaded").count() == 1


# ------------------------------------------------------------------------------------------ 3. suppression
def test_primary_and_complementary_cells_are_labelled_apart() -> None:
    headers, rows, hidden = services.suppressed_rows(
        ["2026-01", "2026-02"], [[3, 50], [50, 60]], ["转入", "转出"]
    )
    assert headers == ["人数", "转入", "转出"]
    marks = {(i, j): v for i, r in enumerate(rows) for j, v in enumerate(r) if isinstance(v, str) and j}
    assert marks[(0, 2)] == "<10"  # the 3
    complementary = {k for k, v in marks.items() if v == deidentify.COMPLEMENTARY}
    assert complementary and all(rows[i][j] != "<10" for i, j in complementary)
    assert (1, 2) in complementary or (0, 3) in complementary  # a 50 is hidden, not labelled "<10"
    assert hidden == len(marks)


def test_hidden_cells_of_a_line_add_up_to_the_threshold() -> None:
    """[50, 1, 0] with its total 51: hiding only 1 and 0 would tell that together they hold one person."""
    _headers, rows, _hidden = services.suppressed_rows(["汉", "回", "藏"], [[50], [1], [0]], [])
    assert rows[1][1] == "<10" and rows[2][1] == "<10"
    assert rows[0][1] == deidentify.COMPLEMENTARY and rows[3] == ["合计", 51]


def _line_sums_ok(table: deidentify.Table, hidden: set[Any], limit: int) -> bool:
    for members, total in table.equations:
        inside = [e for e in members if e in hidden]
        if inside and total not in hidden and sum(table.values[e] for e in inside) < limit:
            return False
    return True


@hsettings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=4).map(tuple),
        min_size=1,
        max_size=6,
    ).filter(lambda rows: len({len(r) for r in rows}) == 1)
)
def test_random_tables_hide_at_least_the_threshold_per_line(matrix: list[tuple[int, ...]]) -> None:
    table = deidentify.Table.of([list(r) for r in matrix])
    hidden = deidentify.suppress(table, 10)
    assert deidentify.primary(table, 10) <= hidden
    assert _line_sums_ok(table, hidden, 10)
    names = {e: "_".join(map(str, e)) for e in table.values}
    values = {names[e]: (None if e in hidden else v) for e, v in table.values.items()}
    equations = [([names[m] for m in members], names[total]) for members, total in table.equations]
    assert determined(equations, values) == set()


def _flows(school: Any, cells: dict[tuple[int, str], int], year: int = 2026) -> None:
    for (month, kind), n in cells.items():
        FlowCell.objects.create(
            month=date(year, month, 1), school_id=school.pk, scope_path=school.org.path, kind=kind, count=n
        )


def test_flows_export_has_real_counts_whole_years_and_every_kind(
    school_a, county_registrar, city_approver
) -> None:
    _flows(
        school_a,
        {(1, "transfer_in"): 40, (1, "transfer_out"): 3, (2, "transfer_in"): 25, (2, "transfer_out"): 30},
    )
    export = request(
        county_registrar,
        f.dept("440105"),
        source="flows",
        fields=["transfer_in"],  # a subset asked for: every kind is exported
        filters={"from": "2026-02", "to": "2026-03"},
    )
    assert export.fields == [k.value for k in FlowKind]
    assert export.filters == {"from": "2026-01", "to": "2026-12"}
    export, _key = approve_and_build(export, city_approver)
    data = download(export)
    rows = sheet_rows(data)
    assert rows[0] == ["月份", "人数", *[str(k.label) for k in FlowKind]]
    assert [r[0] for r in rows[1:]] == [f"2026-{m:02d}" for m in range(1, 13)] + ["合计"]
    assert rows[-1][1] == 98 and rows[-1][2] == 65  # the totals of real, nonzero flows are shown
    assert rows[1][3] == "<10"  # January's 3 transfers out
    flat = [v for r in rows[1:] for v in r[1:]]
    assert deidentify.COMPLEMENTARY in flat and 40 not in flat  # the 40 is hidden to protect the 3
    equations, values = table_equations(rows, multi=True)
    assert determined(equations, values) == set()
    explained = notes(data)["去标识化处理"]
    assert "<10" in explained and "“*”" in explained and "自然年" in explained


def test_flows_of_two_requests_over_one_year_are_the_same_table(
    school_a, county_registrar, city_approver
) -> None:
    """Jan–Feb and Feb alone give the same 2026 table: nothing to subtract."""
    _flows(school_a, {(1, "transfer_in"): 3, (2, "transfer_in"): 50, (2, "transfer_out"): 20})
    tables = []
    for start, end in (("2026-01", "2026-02"), ("2026-02", "2026-02")):
        export = request(
            county_registrar,
            f.dept("440105"),
            source="flows",
            fields=["transfer_out"],
            filters={"from": start, "to": end},
        )
        export, _key = approve_and_build(export, city_approver)
        tables.append(sheet_rows(download(export)))
    assert tables[0] == tables[1]
    assert tables[0][1][2] == "<10"


# ------------------------------------------------------------------------------------------ 4. spill files
def test_build_spills_only_under_the_exports_directory(
    registrar_a, school_a, county_approver, pupils, monkeypatch
) -> None:
    from openpyxl.worksheet import _writer

    made: list[str] = []
    original = tempfile.NamedTemporaryFile

    def spy(*args: Any, **kwargs: Any) -> Any:
        handle = original(*args, **kwargs)
        made.append(handle.name)
        return handle

    monkeypatch.setattr(_writer, "NamedTemporaryFile", spy)
    export, _key = approve_and_build(
        request(registrar_a, school_a.org, fields=["name", "gender"], identified=True),
        county_approver,
        identified=True,
    )
    assert export.state == State.READY
    assert made == []  # openpyxl's own temporary files (in the system temp dir) are never made
    book = load_workbook(io.BytesIO(download(export)))
    sheet = book.worksheets[0]  # the sheet's layout survives the early spill file
    assert (
        sheet.freeze_panes == "A2" and sheet.column_dimensions["A"].width == roster_columns(["name"])[0].width
    )
    assert "仅限批准用途使用" in sheet.oddHeader.center.text
    spill = services.exports_dir() / "tmp"
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700 and list(spill.iterdir()) == []


def test_failed_build_leaves_no_spill_file(
    registrar_a, school_a, county_approver, pupils, monkeypatch
) -> None:
    from openpyxl.worksheet import _writer

    seen: list[Path] = []

    def boom(*args: Any, **kwargs: Any) -> Any:
        spill = services.exports_dir() / "tmp"
        seen.extend(spill.iterdir())
        raise ApplicationError("boom", "测试：生成中途失败")

    monkeypatch.setattr(services, "_notes", boom)
    export = request(registrar_a, school_a.org, fields=["name", "gender"], identified=True)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True, identified=True)
    run_queued_tasks()
    export.refresh_from_db()
    assert export.state == State.FAILED
    assert seen and all(p.parent.name == "tmp" for p in seen)  # the data sheet had spilled …
    assert not any(p.exists() for p in seen)  # … and is gone
    assert not [n for n in _writer.ALL_TEMP_FILES if Path(n).parent.name == "tmp"]


def test_expire_sweeps_old_spill_files_and_spares_a_build_in_progress(
    registrar_a, school_a, county_approver, pupils
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    export = request(registrar_a, school_a.org, fields=["gender"])
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    directory = services.exports_dir()
    spill = services.build_temp_dir()
    in_progress = directory / f"{export.pk}.xlsx.sm4"
    in_progress.write_bytes(b"partial")
    stray = directory / "unknown.xlsx.sm4"
    stray.write_bytes(b"x")
    old = spill / "sheet.old.xml"
    old.write_text("plaintext")
    os.utime(old, (0, 0))
    fresh = spill / "sheet.fresh.xml"
    fresh.write_text("plaintext")
    services.exports_expire(now=timezone.now() + timedelta(minutes=1))
    assert in_progress.exists() and not stray.exists()
    assert not old.exists() and fresh.exists()


# ------------------------------------------------------------------------------------------ 5. export key
def test_production_refuses_to_run_without_the_export_key() -> None:
    from tests.deploy.conftest import manage

    key = secrets.token_urlsafe(64)
    refused = manage("check", XUEJI_ENV="production", XUEJI_SECRET_KEY=key, XUEJI_EXPORT_KEY="")
    assert refused.returncode != 0 and "XUEJI_EXPORT_KEY" in refused.stderr
    ok = manage("check", XUEJI_ENV="production", XUEJI_SECRET_KEY=key)
    assert ok.returncode == 0, ok.stderr


# ------------------------------------------------------------------------------------------ 7. approver
def test_a_colleague_of_the_requesters_highest_grant_does_not_approve(school_a, tree, pupils) -> None:
    both = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="both")
    RoleGrant.objects.create(user=both, role=Role.SCHOOL_REGISTRAR, org_unit=school_a.org)
    both = _fresh(both)
    peer = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="peer")
    county = f.user(Role.APPROVER, f.dept("440105"), username="county_appr")
    city = f.user(Role.APPROVER, f.dept("440100"), username="city_appr")
    export = request(both, school_a.org, fields=["gender"])
    assert export.approving_unit == f.dept("440100")  # above the county grant, not the school one
    for colleague in (peer, county):
        assert not queries.can_approve(colleague, export)
        assert queries.worklist(viewer=colleague).count() == 0
        with pytest.raises(NotFound):
            services.export_approve(actor=colleague, export_id=export.pk, second_factor=True)
    assert queries.worklist(viewer=city).count() == 1
    services.export_approve(actor=city, export_id=export.pk, second_factor=True)
    assert ExportRequest.objects.get(pk=export.pk).state == State.APPROVED


def test_an_approver_at_or_below_a_requester_grant_does_not_approve(school_a, tree) -> None:
    """A requester holding a city grant and a county one: an approver at the county (below the city grant)
    does not approve even where the approving unit would match."""
    requester = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="county_req")
    county_approver = f.user(Role.APPROVER, f.dept("440105"), username="hz_appr2")
    export = request(_fresh(requester), f.dept("440105"), fields=["gender"])
    ExportRequest.objects.filter(pk=export.pk).update(approving_unit=f.dept("440105"))
    export.refresh_from_db()
    assert not queries.can_approve(county_approver, export)


# ------------------------------------------------------------------------------------------ 8. identified opt-in
def test_identified_output_only_when_the_approver_opts_in(
    registrar_a, school_a, county_approver, pupils
) -> None:
    export = request(registrar_a, school_a.org, fields=["name", "gender"], identified=True)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    assert ExportRequest.objects.get(pk=export.pk).approved_identified is False
    client = Client()
    client.force_login(county_approver)
    other = request(registrar_a, school_a.org, fields=["name", "gender"], identified=True)
    html = client.get(f"/exports/{other.pk}/").content.decode()
    assert 'name="identified"' in html  # offered to the approver …
    assert not re.search(r'<input[^>]*name="identified"[^>]*checked', html)  # … but not ticked


def _login(user: Any) -> Client:
    client = Client()
    answer = client.post("/login/", {"username": user.username, "password": f.PASSWORD})
    assert answer.status_code == 302
    return client


@pytest.mark.mfa
def test_api_approval_needs_the_second_factor_and_defaults_to_deidentified(
    registrar_a, school_a, county_approver, pupils, settings
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    export = request(registrar_a, school_a.org, fields=["name", "gender"], identified=True)
    unverified = Client()
    unverified.force_login(county_approver)
    refused = unverified.post(f"/api/v1/exports/{export.pk}/approve", {}, content_type="application/json")
    assert refused.status_code in (401, 403)
    assert ExportRequest.objects.get(pk=export.pk).state == State.SUBMITTED
    client = _login(county_approver)
    assert client.get("/mfa/setup/").status_code == 200
    device = TOTPDevice.objects.get(user=county_approver, confirmed=False)
    assert client.post("/mfa/setup/", {"token": f"{totp(device.bin_key):06d}"}).status_code == 200
    ok = client.post(
        f"/api/v1/exports/{export.pk}/approve", {"note": "同意"}, content_type="application/json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["state"] == "approved" and ok.json()["approved_identified"] is False


# ------------------------------------------------------------------------------------------ 11. row cap
def test_roster_over_the_row_cap_is_refused(registrar_a, school_a, county_approver, pupils, settings) -> None:
    settings.XUEJI_ROSTER_EXPORT_MAX_ROWS = 12
    export = request(registrar_a, school_a.org, fields=["gender"])  # 12 pupils: at the cap, accepted
    settings.XUEJI_ROSTER_EXPORT_MAX_ROWS = 5
    with pytest.raises(FieldError) as refused:
        request(registrar_a, school_a.org, fields=["gender"])
    assert refused.value.code == "export_too_large" and "范围" in refused.value.message
    assert ExportRequest.objects.count() == 1
    with pytest.raises(FieldError):
        services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    assert ExportRequest.objects.get(pk=export.pk).state == State.SUBMITTED


# ------------------------------------------------------------------------------------------ 12. downloads
def test_download_count_adds_up(registrar_a, school_a, county_approver, pupils) -> None:
    export, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    stale = ExportRequest.objects.get(pk=export.pk)
    download(export)
    download(stale)  # a copy read before the first download still counts on
    assert ExportRequest.objects.get(pk=export.pk).download_count == 2


def test_identified_request_approved_by_default_is_deidentified(
    registrar_a, school_a, county_approver, pupils
) -> None:
    from tests.exports.helpers import leaks

    export, _key = approve_and_build(
        request(registrar_a, school_a.org, fields=["name", "gender"], identified=True), county_approver
    )
    assert not export.approved_identified and leaks(download(export), CANARIES) == []
    assert export.identified  # asked for, not granted: the approver did not opt in


def test_row_cap_names_the_scope_on_the_request_page(registrar_a, school_a, pupils, settings) -> None:
    settings.XUEJI_ROSTER_EXPORT_MAX_ROWS = 5
    client = Client()
    client.force_login(registrar_a)
    data = {
        "source": "roster",
        "unit": school_a.pk,
        "fields_": ["gender"],
        **{k: str(v) for k, v in basis().items()},
    }
    page = client.post("/exports/new/", data)
    assert page.status_code == 400 and "超过 5 人" in page.context["form"].errors["unit"][0]
    assert not ExportRequest.objects.exists()
