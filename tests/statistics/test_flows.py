"""学籍变动按月统计 (issue 10 §1; 第11–21条): the flows of a unit per month — applied change requests at the
record's school (a transfer out at the sending school and in at the receiving one) and dropout cases opened —
equal direct counts of the change requests and cases behind them, on the page, in the API and in the export;
requests not applied (pending, scheduled, refused) are not counted."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from tests.factories import accounts as af
from tests.factories import changes as c
from tests.factories import core as f
from tests.factories import students as sf
from xueji.accounts.enums import Role
from xueji.audit.enums import EventType
from xueji.audit.models import AuditEvent
from xueji.changes.models import ChangeRequest
from xueji.changes.services import change_decide, change_submit
from xueji.core.errors import FieldError
from xueji.dropouts.models import DropoutCase
from xueji.regions.models import OrgUnit
from xueji.statistics.models import FlowCell, FlowKind
from xueji.statistics.queries import flow_period, flows
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 12, 1)
#: The flows counted at the record's school, by the change kinds behind them (出境就读 leaves the roll like a
#: transfer out; 结业 and 肄业 are change kinds of their own, so flows of their own, not graduations).
OUT_KINDS = {
    "transfer_out": ("transfer", "abroad"),
    "suspension": ("suspension",),
    "resumption": ("resumption",),
    "withdrawal": ("withdrawal",),
    "death": ("death",),
    "graduation": ("graduation",),
    "completion": ("completion",),
    "incomplete": ("incomplete",),
}
#: Counted at the receiving school: a transfer and a 境外返回.
IN_KINDS = ("transfer", "return_from_abroad")


def _request(
    enrollment: Enrollment,
    kind: str,
    on: date | None,
    *,
    state: str = "approved",
    target: Any = None,
    facts: dict[str, Any] | None = None,
) -> ChangeRequest:
    school = enrollment.school
    return ChangeRequest.objects.create(
        kind=kind,
        facts=facts or {},
        state=state,
        person_id=enrollment.person_id,
        enrollment=enrollment,
        province_code=school.province_code,
        source_path=school.org.path,
        target_path=target.org.path if target else "",
        target_school=target,
        created_by=f.registrar(school),
        initiator_org=school.org,
        effective_on=on,
    )


def _case(enrollment: Enrollment, on: date, *, closed: bool = False) -> DropoutCase:
    from django.utils import timezone

    return DropoutCase.objects.create(
        enrollment=enrollment,
        person_id=enrollment.person_id,
        school=enrollment.school,
        scope_path=enrollment.scope_path,
        opened_on=on,
        opened_by=f.registrar(enrollment.school),
        source="school",
        days_absent=12,
        reason="aversion",
        state="closed" if closed else "open",
        outcome="other" if closed else "",
        closed_at=timezone.now() if closed else None,
    )


@pytest.fixture
def world(tree: Any) -> dict[str, Any]:
    """Applied requests of every kind in several months of 2026 across two Guangzhou counties and Beijing,
    transfers between counties, dropout cases, and requests that must not count (pending, scheduled, refused,
    applied in 2025)."""
    haizhu = f.school("440105", "nine_year", name="海珠区九年一贯制学校")
    haizhu2 = f.school("440105", "primary", name="海珠区第二小学")
    tianhe = f.school("440106", "primary", name="天河区实验小学")
    beijing = f.school("110101", "primary", name="东城区小学")
    pupils = {
        s: [sf.student(s, name=f"学生{f.han_digits(i + 1)}") for i in range(6)]
        for s in (haizhu, tianhe, beijing)
    }
    extra = {
        s: [sf.student(s, name=f"学生{f.han_digits(i + 7)}") for i in range(4)] for s in (haizhu, tianhe)
    }
    h, t, b = pupils[haizhu], pupils[tianhe], pupils[beijing]
    _request(h[0], "transfer", date(2026, 9, 3), target=tianhe)
    _request(h[1], "transfer", date(2026, 9, 30), target=haizhu2)
    _request(t[0], "transfer", date(2026, 10, 8), target=haizhu)
    _request(h[2], "suspension", date(2026, 9, 24))
    _request(h[2], "resumption", date(2026, 11, 2))
    _request(h[3], "withdrawal", date(2026, 3, 15))
    _request(t[1], "death", date(2026, 5, 1))
    _request(h[4], "graduation", date(2026, 7, 10))
    _request(t[2], "graduation", date(2026, 7, 10))
    _request(b[0], "graduation", date(2026, 7, 12))
    _request(b[1], "suspension", date(2026, 12, 1))
    _request(h[5], "suspension", date(2025, 12, 31))  # before the period
    _request(t[3], "suspension", None, state="pending")
    _request(t[4], "suspension", date(2026, 12, 20), state="scheduled")
    _request(t[5], "withdrawal", date(2026, 6, 1), state="rejected")
    _request(b[2], "key_data_change", date(2026, 6, 1))  # not a flow
    hx, tx = extra[haizhu], extra[tianhe]
    _request(hx[0], "abroad", date(2026, 9, 5))  # out at haizhu
    _request(b[4], "return_from_abroad", date(2026, 10, 12), target=haizhu2)  # in at haizhu2
    _request(hx[1], "completion", date(2026, 7, 10))
    _request(tx[0], "incomplete", date(2026, 7, 11))
    _request(tx[1], "special_ed_decision", date(2026, 7, 1), facts={"decision": "graduate"})  # 毕业
    _request(tx[2], "special_ed_decision", date(2026, 7, 1), facts={"decision": "promote"})  # not a flow
    _case(h[3], date(2026, 10, 9))
    _case(h[5], date(2026, 10, 20), closed=True)
    _case(b[3], date(2026, 2, 28))
    return {"haizhu": haizhu, "haizhu2": haizhu2, "tianhe": tianhe, "beijing": beijing}


def _months(start: date, end: date) -> list[date]:
    out, day = [], start
    while day <= end:
        out.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def direct(unit: OrgUnit, start: date, end: date) -> dict[str, dict[str, int]]:
    """Each month's flows straight from the change requests and dropout cases, to compare against."""
    applied = ChangeRequest.objects.filter(state="approved")
    out: dict[str, dict[str, int]] = {}
    for m in _months(start, end):
        when = {"effective_on__year": m.year, "effective_on__month": m.month}
        counts = {
            flow: applied.filter(kind__in=kinds, source_path__startswith=unit.path, **when).count()
            for flow, kinds in OUT_KINDS.items()
        }
        # a special-education decision to graduate closes the record as 毕业
        counts["graduation"] += applied.filter(
            kind="special_ed_decision", facts__decision="graduate", source_path__startswith=unit.path, **when
        ).count()
        counts["transfer_in"] = applied.filter(
            kind__in=IN_KINDS, target_path__startswith=unit.path, **when
        ).count()
        counts["dropout"] = DropoutCase.objects.filter(
            scope_path__startswith=unit.path, opened_on__year=m.year, opened_on__month=m.month
        ).count()
        out[f"{m:%Y-%m}"] = {k.value: counts[k.value] for k in FlowKind}
    return out


def as_dict(unit: OrgUnit, start: date = START, end: date = END) -> dict[str, dict[str, int]]:
    return {r.key: r.parts for r in flows(unit=unit, start=start, end=end).rows}


@pytest.mark.parametrize("code", ["440000", "440100", "440105", "440106", "110000"])
def test_flows_equal_direct_counts_for_departments(world: dict[str, Any], code: str) -> None:
    snapshot_rebuild()
    unit = f.dept(code)
    assert as_dict(unit) == direct(unit, START, END)


@pytest.mark.parametrize("name", ["haizhu", "haizhu2", "tianhe", "beijing"])
def test_flows_equal_direct_counts_for_schools(world: dict[str, Any], name: str) -> None:
    snapshot_rebuild()
    unit = world[name].org
    assert as_dict(unit) == direct(unit, START, END)


def test_what_counts_where(world: dict[str, Any]) -> None:
    """A transfer is out at the sending school and in at the receiving one (both within a county that holds
    both); requests not applied and other kinds are not flows; a dropout case counts in its opening month."""
    snapshot_rebuild()
    haizhu, city = f.dept("440105"), f.dept("440100")
    sept = as_dict(haizhu)["2026-09"]
    assert (sept["transfer_out"], sept["transfer_in"], sept["suspension"]) == (3, 1, 1)  # 2 transfers, 出境
    assert as_dict(world["tianhe"].org)["2026-09"]["transfer_in"] == 1
    assert as_dict(city)["2026-10"] == {
        **dict.fromkeys(FlowKind.values, 0),
        "transfer_out": 1,
        "transfer_in": 2,  # a transfer and a 境外返回
        "dropout": 2,
    }
    december = as_dict(f.dept("440106"))["2026-12"]
    assert december["suspension"] == 0  # scheduled for 2026-12-20: not applied yet
    assert as_dict(f.dept("440106"))["2026-06"]["withdrawal"] == 0  # refused
    everything = flows(unit=f.dept("440000"), start=date(2025, 12, 1), end=END)
    assert everything.rows[0].parts["suspension"] == 1  # 2025-12-31
    assert sum(FlowCell.objects.values_list("count", flat=True)) == (
        ChangeRequest.objects.filter(
            state="approved", kind__in=[k for v in OUT_KINDS.values() for k in v]
        ).count()
        + ChangeRequest.objects.filter(state="approved", kind__in=IN_KINDS).count()
        + ChangeRequest.objects.filter(
            state="approved", kind="special_ed_decision", facts__decision="graduate"
        ).count()
        + DropoutCase.objects.count()
    )


def test_abroad_completion_and_special_education_flows(world: dict[str, Any]) -> None:
    """出境就读 is a transfer out at its school and 境外返回 a transfer in at the receiving one (第20条); 结业
    and 肄业 are counted as themselves; a special-education decision counts as a graduation only when it
    graduates the pupil — each equal to the change requests behind it."""
    snapshot_rebuild()
    applied = ChangeRequest.objects.filter(state="approved")
    haizhu, haizhu2, tianhe = world["haizhu"].org, world["haizhu2"].org, world["tianhe"].org
    september = as_dict(haizhu)["2026-09"]["transfer_out"]
    assert (
        september
        == 3
        == applied.filter(
            kind__in=("transfer", "abroad"), source_path__startswith=haizhu.path, effective_on__month=9
        ).count()
    )
    october = as_dict(haizhu2)["2026-10"]["transfer_in"]
    assert (
        october
        == 1
        == applied.filter(
            kind="return_from_abroad", target_path__startswith=haizhu2.path, effective_on__month=10
        ).count()
    )
    assert (
        as_dict(haizhu)["2026-07"]["completion"]
        == 1
        == applied.filter(kind="completion", source_path__startswith=haizhu.path).count()
    )
    july = as_dict(tianhe)["2026-07"]
    assert (
        july["incomplete"]
        == 1
        == applied.filter(kind="incomplete", source_path__startswith=tianhe.path).count()
    )
    # a graduation request and a special-education decision to graduate; the decision to promote is no flow
    assert july["graduation"] == 2
    assert july["graduation"] == (
        applied.filter(kind="graduation", source_path__startswith=tianhe.path, effective_on__month=7).count()
        + applied.filter(
            kind="special_ed_decision", facts__decision="graduate", source_path__startswith=tianhe.path
        ).count()
    )


def test_every_month_of_the_period_is_listed(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    table = flows(unit=f.dept("110000"), start=date(2026, 6, 1), end=date(2027, 2, 1))
    assert [r.key for r in table.rows] == [
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert [p.key for p in table.parts] == FlowKind.values
    assert {p.key: n for p, n in table.part_totals}["graduation"] == 1
    assert table.total == 2  # one graduation (July), one suspension (December)


def test_period_defaults_and_refusals() -> None:
    assert flow_period(today=date(2026, 12, 4)) == (date(2026, 1, 1), date(2026, 12, 1))
    assert flow_period("2026-03", "2026-03") == (date(2026, 3, 1), date(2026, 3, 1))
    assert flow_period(None, "2026-05", today=date(2030, 1, 1)) == (date(2025, 6, 1), date(2026, 5, 1))
    for start, end, field in [
        ("2026-13", None, "from"),
        ("2026-1", None, "from"),
        (None, "x", "to"),
        ("2026-05", "2026-04", "from"),
        ("2020-01", "2026-01", "from"),
    ]:
        with pytest.raises(FieldError) as exc:
            flow_period(start, end, today=date(2026, 12, 4))
        assert field in exc.value.fields


def test_applied_change_through_the_workflow_is_a_flow(tree: Any) -> None:
    """A suspension approved through the engine lands in its month once the snapshot is rebuilt."""
    c.calendar()
    school = f.school("440105", "primary")
    e = c.enrolled(school, grade=4)
    day = date(2026, 9, 24)
    req = change_submit(
        actor=f.registrar(school),
        kind="suspension",
        enrollment=e,
        facts={
            "start_date": "2026-09-24",
            "end_date": "2027-07-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=day,
    )
    change_decide(actor=c.dept_registrar("440105"), request=req, action="approve", today=day)
    snapshot_rebuild()
    assert (
        as_dict(school.org)["2026-09"]["suspension"]
        == 1
        == direct(school.org, START, END)["2026-09"]["suspension"]
    )


def test_api_page_and_export_give_the_same_flows(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    unit = f.dept("440100")
    viewer = f.user(Role.DEPT_REGISTRAR, unit)
    client = af.client()
    client.force_login(viewer)
    params = {"unit": str(unit.pk), "from": "2026-01", "to": "2026-12"}
    body = client.get("/api/v1/statistics/flows", params).json()
    assert (body["unit_id"], body["from"], body["to"]) == (unit.pk, "2026-01", "2026-12")
    assert {m["month"]: m["counts"] for m in body["months"]} == direct(unit, START, END)
    assert [k["key"] for k in body["kinds"]] == FlowKind.values
    assert {k["key"]: k["total"] for k in body["kinds"]}["transfer_out"] == 4

    html = client.get(reverse("statistics:overview"), params).content.decode()
    section = html.split('data-testid="stat-flows"', 1)[1].split("</section>", 1)[0]
    assert 'data-chart-type="line"' in section
    import re

    page: dict[str, dict[str, int]] = {}
    for key, row in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', section, re.S):
        page[key] = {k: int(n) for k, n in re.findall(r'data-part="([^"]+)" data-part-value="(\d+)"', row)}
    assert page == direct(unit, START, END)

    # 第24条 (issue 11 §4): the page's export leads to the approved export request, with the unit and months
    export = client.get(reverse("statistics:export_flows"), params)
    assert export.status_code == 302
    assert export["Location"].startswith(f"{reverse('exports:new')}?source=flows&unit={unit.pk}&from=")
    # the file delivered after approval carries the page's numbers: tests/exports/test_statistics_exact.py


def test_flows_default_to_the_last_twelve_months(world: dict[str, Any]) -> None:
    from django.utils import timezone

    snapshot_rebuild()
    client = af.client()
    client.force_login(f.user(Role.DEPT_REGISTRAR, f.dept("440000")))
    body = client.get("/api/v1/statistics/flows").json()
    assert len(body["months"]) == 12 and body["to"] == f"{timezone.localdate():%Y-%m}"


def test_flows_out_of_scope_and_bad_input(world: dict[str, Any]) -> None:
    snapshot_rebuild()
    client = af.client()
    client.force_login(f.user(Role.DEPT_REGISTRAR, f.dept("440105")))
    outside = f.dept("440106")
    assert client.get("/api/v1/statistics/flows", {"unit": str(outside.pk)}).status_code == 404
    before = AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count()
    assert client.get(reverse("statistics:export_flows"), {"unit": str(outside.pk)}).status_code == 404
    assert AuditEvent.objects.filter(event_type=EventType.STATISTICS_EXPORTED).count() == before
    bad = client.get("/api/v1/statistics/flows", {"from": "2026-13"})
    assert bad.status_code == 400 and "from" in bad.json()["fields"]
    assert client.get("/api/v1/statistics/flows", {"from": "2026-05", "to": "2026-01"}).status_code == 400
    assert client.get(reverse("statistics:overview"), {"from": "x"}).status_code == 400
    assert client.get(reverse("statistics:export_flows"), {"to": "2026-1"}).status_code == 400
