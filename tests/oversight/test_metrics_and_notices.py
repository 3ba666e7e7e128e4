"""违规监督, the violations added for issue 10 §4 (第26条): changes not entered on time (第7条 one month; a death
after its 60 working days, 第21条), approvals decided past their clock — by unit and by person (第15条), transfers
left to expire besides those refused (第15条; 第26条 五); and the daily count per unit that notifies the unit and
its upper level when a count rises (第5、26条)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from tests.factories import changes as cf
from tests.factories import core as f
from tests.oversight.seed import archive_overdue, seed_new_metrics, seed_violations
from xueji.changes.models import ApprovalStep, ChangeRequest, Notification
from xueji.oversight.models import SnapshotDay, UnitCount
from xueji.oversight.queries import METRICS, Window, late_deciders, own_counts
from xueji.oversight.services import NOTICE_RISE, counts_snapshot
from xueji.oversight.tasks import snapshot_counts
from xueji.regions.models import OrgUnit

NEW = ("late_changes", "late_decisions", "transfers_expired")


def direct_counts(unit: OrgUnit) -> dict[str, int]:
    """The records behind the new metrics in ``unit``'s subtree, counted straight from the tables."""
    today, now = timezone.localdate(), timezone.now()
    period = now - timedelta(days=91)
    late = [
        r
        for r in ChangeRequest.objects.filter(
            source_path__startswith=unit.path, created_at__gte=period
        ).exclude(state="cancelled")
        if (r.kind == "death" and r.facts.get("filed_late") is True)
        or (
            r.kind != "death"
            and "departure_date" in r.facts
            and (timezone.localdate(r.created_at) - date.fromisoformat(r.facts["departure_date"])).days > 31
        )
    ]
    decided = [
        s
        for s in ApprovalStep.objects.filter(
            org_unit__path__startswith=unit.path, decided_at__gte=period, decided_by__isnull=False
        )
        if s.due_on and s.due_on < timezone.localdate(s.decided_at)
    ]
    return {
        "late_changes": len(late),
        "late_decisions": len(decided),
        "transfers_expired": ApprovalStep.objects.filter(
            Q(org_unit__path__startswith=unit.path),
            state="pending",
            due_on__lt=today,
            request__kind="transfer",
            request__state="pending",
        ).count(),
    }


def page_counts(client: Any, unit: OrgUnit, child: OrgUnit) -> dict[str, int]:
    html = client.get(reverse("oversight:unit", args=[unit.pk])).content.decode()
    row = re.search(rf'<tr data-unit="{child.pk}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {child.name}"
    out = {}
    for m in NEW:
        cell = re.search(rf'data-metric="{m}">(.*?)</td>', row.group(1), re.S)
        assert cell
        out[m] = int(re.sub(r"<[^>]+>", "", cell.group(1)).strip())
    return out


@pytest.fixture
def world(school_a, school_b):  # type: ignore[no-untyped-def]
    seed_violations(school_a, school_b)
    return seed_new_metrics(school_a, school_b)


@pytest.mark.django_db
def test_new_counts_per_county_equal_the_records_and_the_drill_down(client, school_a, school_b, world):
    city = f.dept("440100")
    client.force_login(cf.dept_registrar("440100"))
    for school in (school_a, school_b):
        county = school.org.parent
        shown = page_counts(client, city, county)
        assert shown == direct_counts(county)
        for m in NEW:
            r = client.get(reverse("oversight:items", args=[county.pk, m]))
            assert r.status_code == 200
            assert len(r.context["item_rows"]) == shown[m]
    # the seed's own arithmetic, so that a query counting nothing cannot pass
    assert page_counts(client, city, school_a.org.parent) == {
        "late_changes": 1,
        "late_decisions": 3,
        "transfers_expired": 0,
    }
    assert page_counts(client, city, school_b.org.parent) == {
        "late_changes": 1,
        "late_decisions": 0,
        "transfers_expired": 1,
    }


@pytest.mark.django_db
def test_late_change_drill_down_names_the_event_day_and_masks_the_student(client, school_a, world):
    client.force_login(cf.dept_registrar("440105"))
    r = client.get(reverse("oversight:items", args=[school_a.org.pk, "late_changes"]))
    [row] = r.context["item_rows"]
    html = r.content.decode()
    assert (timezone.localdate() - timedelta(days=60)).isoformat() in row["note"]
    assert row["obj"].person.name not in html


@pytest.mark.django_db
def test_late_decisions_by_person(client, school_a, school_b, world):
    """第15、26条: who decided late — 王 twice at school A, 李 once at 海珠区 (a decision in time and one before
    the period do not count)."""
    county_a = school_a.org.parent
    people = late_deciders(unit=county_a, window=Window.default())
    assert [(d.name, d.unit, d.count) for d in people] == [
        ("wang_approver", school_a.org.name, 2),
        ("li_approver", county_a.name, 1),
    ]
    county_user = cf.dept_registrar("440105")
    client.force_login(county_user)
    r = client.get(reverse("oversight:people", args=[county_a.pk]))
    assert r.status_code == 200
    html = r.content.decode()
    assert re.search(rf'data-user="{world["wang"].pk}">.*?data-count>2<', html, re.S)
    # on the county's own pages its own decisions are left to the city, as on its overview (totals agree), and
    # "back" leads to the county's overview (the city's is outside its scope)
    assert [d.name for d in r.context["deciders"]] == ["wang_approver"]
    items = client.get(reverse("oversight:items", args=[county_a.pk, "late_decisions"]))
    assert len(items.context["item_rows"]) == 2 == sum(d.count for d in r.context["deciders"])
    assert items.context["back"] == county_a and r.context["back"] == county_a
    assert client.get(reverse("oversight:unit", args=[county_a.pk])).status_code == 200
    # the city drilling into the county sees both, as its row for the county counts them
    city = cf.dept_registrar("440100")
    client.force_login(city)
    r = client.get(reverse("oversight:people", args=[county_a.pk]))
    assert [d.name for d in r.context["deciders"]] == ["wang_approver", "li_approver"]
    assert r.context["back"] == county_a.parent
    client.force_login(county_user)
    # 天河区 and its school are outside 海珠区: 404
    assert client.get(reverse("oversight:people", args=[school_b.org.pk])).status_code == 404
    assert client.get(reverse("oversight:people", args=[school_b.org.parent.pk])).status_code == 404


@pytest.mark.django_db
def test_own_counts_sum_to_the_subtree_counts(school_a, school_b, world):
    """The daily count is per unit's own records: summed over a subtree it equals the page's subtree count."""
    w = Window.default()
    own = own_counts(window=w)
    for unit in (school_a.org, school_a.org.parent, school_b.org.parent, f.dept("440100")):
        ids = set(OrgUnit.objects.filter(path__startswith=unit.path).values_list("pk", flat=True))
        for m in METRICS:
            summed = sum(own.get(u, {}).get(m.key, 0) for u in ids)
            assert summed == m.records(unit.path, w).count(), (unit.name, m.key)


@pytest.mark.django_db
def test_a_rise_notifies_the_unit_and_its_upper_level_once(school_a, school_b):
    """第26条: the first day is the baseline; a rise is told to the unit and its county, once; no rise, no notice."""
    archive_overdue(school_a)
    first = counts_snapshot()
    assert first.baseline and first.notices == 0
    assert UnitCount.objects.get(org_unit=school_a.org, metric="archives").count == 1
    assert not Notification.objects.filter(notice=NOTICE_RISE).exists()

    archive_overdue(school_a)
    second = counts_snapshot()
    assert (second.rose, second.notices) == (1, 2)
    told = Notification.objects.filter(notice=NOTICE_RISE)
    assert {n.org_unit_id for n in told} == {school_a.org.pk, school_a.org.parent_id}
    with override("zh-hans"):
        text = told.first().text  # type: ignore[union-attr]
    assert (
        text
        == f"违规监督：{school_a.name}的违规情形增加（截至{timezone.localdate():%Y-%m-%d}），请查看违规监督"
    )
    assert told.first().params["reason"] == school_a.org.name  # type: ignore[union-attr]

    assert counts_snapshot().notices == 0  # the same day again: nothing new
    tomorrow = counts_snapshot(now=timezone.now() + timedelta(days=1))
    assert tomorrow.notices == 0 and Notification.objects.filter(notice=NOTICE_RISE).count() == 2
    assert SnapshotDay.objects.count() == 2


@pytest.mark.django_db
def test_a_county_rise_goes_to_the_county_and_the_city_not_to_the_province(school_a):
    from tests.oversight.seed import request_for, step
    from xueji.changes.enums import ChangeKind
    from xueji.changes.workflow import RequestState, StepState

    county = school_a.org.parent
    counts_snapshot()
    step(
        request_for(school_a, kind=ChangeKind.SUSPENSION, state=RequestState.PENDING),
        county,
        state=StepState.PENDING,
        due_days=-1,
    )
    report = snapshot_counts.call()
    assert report == {"units": 1, "rose": 1, "notices": 2}
    assert set(Notification.objects.filter(notice=NOTICE_RISE).values_list("org_unit_id", flat=True)) == {
        county.pk,
        county.parent_id,
    }
