"""Issue 8 item 9: roster export — chosen columns, filters, a working spreadsheet; a school registrar for their
school, a city or county registrar for their region; scoped (404), audited, masked by role; large rosters
written in the background, refused beyond one sheet.

Since issue 11 §4 (第24条) the web pages no longer hand out rosters: the roster page and the list page's buttons
send their range, filters and columns to the approved export request (xueji.exports; tests/exports). The roster
services below (used by ``manage.py export_roster``) are tested directly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.factories import core as f
from tests.factories import students as sf
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.core.masking import mask_student_number
from xueji.imports import queries, services, tasks
from xueji.imports.models import RosterExport
from xueji.regions.models import OrgUnit

pytestmark = pytest.mark.django_db
URL = "imports:roster"


@pytest.fixture
def world(school_a, school_b, registrar_a):
    """海珠区: school_a with two pupils in 一年级 1班 and one in 三年级 2班; 天河区: school_b with one pupil."""
    a1 = sf.student(school_a, registrar_a, name="甲一")
    a2 = sf.student(school_a, registrar_a, name="甲二")
    a3 = sf.student(school_a, registrar_a, name="甲三", enrollment={"grade": "3", "class_name": "2班"})
    b1 = sf.student(school_b, None, name="乙一")
    return {"a": [a1, a2, a3], "b": [b1]}


@pytest.fixture
def county_a(tree):
    return f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="county_a")


@pytest.fixture
def county_b(tree):
    return f.user(Role.DEPT_REGISTRAR, f.dept("440106"), username="county_b")


def unit(code: str) -> OrgUnit:
    return f.dept(code)


COLUMNS = ("student_number", "name", "school", "grade", "class_name")


def post(client, **data):
    data.setdefault("columns", list(COLUMNS))
    return client.post(reverse(URL), data)


def spec(unit, **kw):
    kw.setdefault("columns", COLUMNS)
    return services.RosterSpec(unit=unit, **kw)


def table(actor, roster_spec, tmp_path):
    """The roster service's workbook for ``roster_spec`` (the file ``manage.py export_roster`` writes)."""
    target = tmp_path / f"roster-{next(_files)}.xlsx"
    services.roster_export_write(actor=actor, spec=roster_spec, target=target)
    return load_workbook(target).active


_files = iter(range(10**6))


def to_request(response) -> str:
    """The old roster export answers with the export request form (第24条), carrying the roster's choices."""
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(reverse("exports:new") + "?source=roster")
    return location


def exports():
    return AuditEvent.objects.filter(event_type=EventType.ROSTER_EXPORTED)


# ------------------------------------------------------------------------------------------ who may export
def test_the_form_offers_the_own_region_only(client, world, county_a, school_a):
    client.force_login(county_a)
    html = client.get(to_request(client.get(reverse(URL)))).content.decode()
    assert "广东省广州市海珠区教育局（县级）" in html and "天河区" not in html and "广州市教育局" not in html
    assert re.search(r'<input type="checkbox" name="fields_" value="student_number"', html)
    assert not re.search(r'<input type="checkbox" name="fields_" value="id_number" [^>]*checked', html)


def test_a_city_registrar_may_export_the_city_and_its_counties(dept_registrar):
    names = {u.code for u in queries.roster_units(dept_registrar)}
    assert {"440100", "440105", "440106"} <= names
    assert not any(
        u.code.startswith("4403") for u in queries.roster_units(dept_registrar)
    )  # 深圳 is not theirs
    assert all(u.level in {"city", "county"} for u in queries.roster_units(dept_registrar))


@pytest.mark.parametrize("role", [Role.APPROVER, Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN])
def test_other_roles_have_no_export(client, tree, role):
    client.force_login(f.user(role, f.dept("440105")))
    assert client.get(reverse(URL)).status_code == 404
    assert client.post(reverse(URL), {"unit": unit("440105").pk, "columns": ["name"]}).status_code == 404
    assert not exports().exists()


def test_an_unfiled_registrar_has_no_export(client, tree):
    client.force_login(f.user(Role.DEPT_REGISTRAR, f.dept("440105"), filed=False))
    assert client.get(reverse(URL)).status_code == 404


def test_a_unit_outside_the_region_is_404_and_exports_nothing(client, world, county_b, tmp_path):
    """第23条: 天河区 cannot export 海珠区 — the posted unit id is as good as unknown."""
    client.force_login(county_b)
    assert post(client, unit=unit("440105").pk).status_code == 404
    assert post(client, unit="not-a-number").status_code == 404
    assert not exports().exists()
    spec = services.RosterSpec(unit=unit("440105"))
    with pytest.raises(services.NotFound):
        services.roster_export_write(actor=county_b, spec=spec, target=tmp_path / "r.xlsx")
    assert not exports().exists() and not (tmp_path / "r.xlsx").exists()


def test_a_school_outside_the_unit_gets_the_same_answer_as_an_unknown_code(client, world, county_a, school_b):
    from tests.exports.conftest import basis
    from xueji.core.errors import FieldError
    from xueji.exports.services import export_request_create

    answers = []
    for code in (school_b.school_code, "2199999999"):
        with pytest.raises(FieldError) as exc:
            export_request_create(
                actor=county_a,
                source="roster",
                unit_id=unit("440105").pk,
                fields=["name"],
                filters={"school": code},
                **basis(),
            )
        answers.append((exc.value.field, exc.value.code))
        assert "所选范围内没有学校标识码为" in exc.value.message and "天河区实验小学" not in exc.value.message
    assert answers[0] == answers[1] == ("school", "invalid_school")
    assert not exports().exists()


@pytest.mark.usefixtures("world")
def test_a_school_registrar_exports_their_own_school_only(client, registrar_a, school_a, school_b, tmp_path):
    client.force_login(registrar_a)
    assert [u.pk for u in queries.roster_units(registrar_a)] == [school_a.pk]
    assert post(client, unit=school_b.pk).status_code == 404
    assert f"unit={school_a.pk}" in to_request(post(client, unit=school_a.pk))
    assert f"unit={school_a.pk}" in to_request(
        client.post(reverse("imports:export_roster"), {"school": school_a.school_code})
    )
    with pytest.raises(services.NotFound):
        services.roster_export_write(actor=registrar_a, spec=spec(school_b.org), target=tmp_path / "b.xlsx")
    ws = table(registrar_a, spec(school_a.org, school=school_a), tmp_path)
    assert ws.max_row == 4
    assert not exports().filter(org_unit_id=school_b.pk).exists()


# ------------------------------------------------------------------------------------------ the file
def test_the_county_export_is_a_working_table_with_masked_numbers(world, county_a, tmp_path):
    ws = table(county_a, spec(unit("440105")), tmp_path)
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("学籍号", "姓名", "学校", "年级", "班级")
    assert len(rows) == 4  # 天河区 is not in it
    expected = {mask_student_number(e.person.student_number) for e in world["a"]}
    assert {r[0] for r in rows[1:]} == expected
    assert sorted(r[3] for r in rows[1:]) == ["一年级", "一年级", "三年级"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E4"
    assert [ws.column_dimensions[c].width for c in "ABCDE"] == [22, 12, 28, 14, 10]


def test_the_school_registrar_export_shows_full_numbers(world, registrar_a, school_a, tmp_path):
    ws = table(
        registrar_a, spec(school_a.org, school=school_a, columns=("student_number", "id_number")), tmp_path
    )
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in rows} == {e.person.student_number for e in world["a"]}
    assert all("*" in r[1] for r in rows)  # identity numbers stay masked for everyone


def test_filters_narrow_the_roster(client, world, county_a, school_a, tmp_path):
    by_grade = table(county_a, spec(unit("440105"), grade=3), tmp_path)
    assert [r[1] for r in by_grade.iter_rows(min_row=2, values_only=True)] == ["甲三"]
    client.force_login(county_a)  # the page hands the filters on to the export request form
    location = to_request(post(client, unit=unit("440105").pk, school=school_a.school_code, class_name="1班"))
    assert f"school={school_a.school_code}" in location and "class_name=1%E7%8F%AD" in location
    by_class = table(county_a, spec(unit("440105"), school=school_a, class_name="1班"), tmp_path)
    assert sorted(r[1] for r in by_class.iter_rows(min_row=2, values_only=True)) == ["甲一", "甲二"]


def test_a_class_without_a_school_and_no_column_are_refused_naming_the_field(client, world, county_a):
    """On the export request form (第24条), which the roster page now leads to."""
    from tests.exports.conftest import basis

    client.force_login(county_a)
    base = {"source": "roster", "unit": unit("440105").pk, **{k: str(v) for k, v in basis().items()}}
    new = reverse("exports:new")
    no_school = client.post(new, {**base, "fields_": ["name"], "class_name": "1班"}).content.decode()
    assert "按班级导出时，请先填写学校标识码" in no_school and 'id="id_class_name-error"' in no_school
    no_column = client.post(new, base).content.decode()
    assert "请至少选择一个字段" in no_column
    unknown = client.post(new, {**base, "fields_": ["name", "password"]})
    assert unknown.status_code == 400
    assert not exports().exists()


# ------------------------------------------------------------------------------------------ audit, rate limit
def test_the_audit_says_who_exported_what_filter_and_how_many_not_the_data(
    world, county_a, school_a, tmp_path
):
    table(county_a, spec(unit("440105"), school=school_a, grade=1), tmp_path)
    event = exports().get()
    assert event.actor_id == county_a.pk and event.subject_type == "school"
    assert event.after == {
        "kind": "roster",
        "org_unit_id": unit("440105").pk,
        "school": school_a.school_code,
        "grade": 1,
        "class_name": "",
        "keys": ["student_number", "name", "school", "grade", "class_name"],
        "count": 2,
        "masked": True,
    }
    text = event.summary + str(event.after)
    for e in world["a"]:
        assert e.person.name not in text and e.person.student_number not in text


def test_the_page_no_longer_hands_out_a_roster(client, world, county_a, settings):
    """第24条 (issue 11 §4): the old direct export writes no file and no export event; the rate limit of
    exports now applies to the downloads of approved exports (tests/exports/test_views.py)."""
    client.force_login(county_a)
    for _ in range(3):
        to_request(post(client, unit=unit("440105").pk))
    assert not exports().exists() and not RosterExport.objects.exists()


# ------------------------------------------------------------------------------------------ large rosters
@pytest.mark.usefixtures("world")
def test_a_large_roster_is_written_in_the_background_for_its_requester_only(
    client, county_a, county_b, settings, tmp_path
):
    settings.XUEJI_ROSTER_EXPORT_INLINE_ROWS = 2
    client.force_login(county_a)
    _size, export = tasks.start_roster_export(
        actor=county_a, spec=spec(unit("440105")), target=tmp_path / "x"
    )
    assert export == RosterExport.objects.get()
    location = reverse("imports:export_detail", args=[export.pk])
    assert (export.status, export.expected_rows) == (RosterExport.Status.QUEUED, 3)
    assert not exports().exists()  # audited when the file is written
    page = client.get(location).content.decode()
    assert 'hx-trigger="every 2s"' in page and "正在生成名册" in page
    assert run_queued_tasks() == ["SUCCESSFUL"]
    export.refresh_from_db()
    assert (export.status, export.row_count) == (RosterExport.Status.DONE, 3)
    assert exports().get().after["count"] == 3
    done = client.get(location).content.decode()
    assert "hx-trigger" not in done
    ws = load_workbook(services.export_file(export)).active
    assert ws.max_row == 4 and ws.freeze_panes == "A2"
    # 第24条: the page no longer hands the file out; the requester is sent to the approved exports
    download = client.get(reverse("imports:export_download", args=[export.pk]))
    assert download.status_code == 302 and download["Location"] == reverse("exports:list")
    client.force_login(county_b)  # nobody else sees the export or its file
    assert client.get(reverse("imports:export_detail", args=[export.pk])).status_code == 404
    assert client.get(reverse("imports:export_download", args=[export.pk])).status_code == 404


def test_a_roster_longer_than_a_sheet_is_refused(world, county_a, settings, tmp_path):
    settings.XUEJI_ROSTER_EXPORT_INLINE_ROWS = 1
    settings.XUEJI_ROSTER_EXPORT_MAX_ROWS = 2
    with pytest.raises(services.ApplicationError) as exc:
        tasks.start_roster_export(actor=county_a, spec=spec(unit("440105")), target=tmp_path / "x")
    assert "超出一个 Excel 工作表的容量" in exc.value.message
    assert not RosterExport.objects.exists() and not exports().exists()


def test_a_grant_withdrawn_before_the_worker_runs_ends_the_export(world, county_a, settings, tmp_path):
    settings.XUEJI_ROSTER_EXPORT_INLINE_ROWS = 1
    tasks.start_roster_export(actor=county_a, spec=spec(unit("440105")), target=tmp_path / "x")
    from xueji.accounts.models import RoleGrant

    RoleGrant.objects.filter(user=county_a).delete()
    run_queued_tasks()
    export = RosterExport.objects.get()
    assert (export.status, export.message) == (RosterExport.Status.FAILED, "您已无权导出该范围的名册")
    assert not exports().exists() and not list(services.exports_dir().glob("*"))


def test_files_are_deleted_after_the_retention_period(client, world, county_a, settings, tmp_path):
    settings.XUEJI_ROSTER_EXPORT_INLINE_ROWS = 1
    client.force_login(county_a)
    tasks.start_roster_export(actor=county_a, spec=spec(unit("440105")), target=tmp_path / "x")
    run_queued_tasks()
    export = RosterExport.objects.get()
    path = services.export_file(export)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    later = timezone.now() + timedelta(hours=25)
    assert not queries.export_ready(export, now=later)
    RosterExport.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert services.roster_exports_purge(now=timezone.now()) == 1
    export.refresh_from_db()
    assert not path.exists() and export.file_purged_at is not None
    assert (
        client.get(reverse("imports:export_download", args=[export.pk])).status_code == 302
    )  # never the file


def test_an_export_whose_worker_died_is_marked_failed(county_a, world, tmp_path):
    spec = services.RosterSpec(unit=unit("440105"))
    export = services.roster_export_queue(actor=county_a, spec=spec, expected=3)
    RosterExport.objects.filter(pk=export.pk).update(
        status=RosterExport.Status.RUNNING, worker_host="elsewhere", worker_pid=1, heartbeat_at=None
    )
    assert tasks.reap_stale.call() == 1
    export.refresh_from_db()
    assert (export.status, export.message) == (RosterExport.Status.FAILED, services.EXPORT_LOST_MESSAGE)


def test_a_queued_export_runs_once(county_a, world):
    spec = services.RosterSpec(unit=unit("440105"))
    export = services.roster_export_queue(actor=county_a, spec=spec, expected=3)
    assert services.roster_export_build(export_id=export.pk).status == RosterExport.Status.DONE
    assert services.roster_export_build(export_id=export.pk) is None
    assert exports().count() == 1


def test_a_long_background_export_reports_progress_while_it_streams(county_a, world, monkeypatch):
    """Progress and heartbeat are written between the rows read from the open cursor (outside any
    transaction), so the export's page shows them while the file is being written."""
    monkeypatch.setattr(services, "HEARTBEAT_ROWS", 1)
    spec = services.RosterSpec(unit=unit("440105"))
    export = services.roster_export_queue(actor=county_a, spec=spec, expected=3)
    seen: list[int] = []
    write = services.write_roster

    def watching(target, rows, **kwargs):
        def rows_seen():
            for row in rows:
                yield row
                seen.append(RosterExport.objects.get(pk=export.pk).row_count)

        return write(target, rows_seen(), **kwargs)

    monkeypatch.setattr(services, "write_roster", watching)
    done = services.roster_export_build(export_id=export.pk)
    assert (done.status, done.row_count) == (RosterExport.Status.DONE, 3)
    assert seen == [0, 1, 2]  # the row count stored after each row, while the next is being read


def test_a_grant_withdrawn_after_the_file_was_written_ends_its_download(
    client, world, county_a, settings, tmp_path
):
    settings.XUEJI_ROSTER_EXPORT_INLINE_ROWS = 1
    client.force_login(county_a)
    tasks.start_roster_export(actor=county_a, spec=spec(unit("440105")), target=tmp_path / "x")
    run_queued_tasks()
    export = RosterExport.objects.get()
    assert export.status == RosterExport.Status.DONE
    assert client.get(reverse("imports:export_detail", args=[export.pk])).status_code == 200
    from xueji.accounts.models import RoleGrant

    RoleGrant.objects.filter(user=county_a).delete()
    assert client.get(reverse("imports:export_download", args=[export.pk])).status_code == 404
    assert client.get(reverse("imports:export_detail", args=[export.pk])).status_code == 404
