"""违规监督 (第5、26条): per child unit, counts of what the regulation names as violations — overdue archives
(第6条), steps past their clock (第15条), refused transfers (第15、26条) and stale problem records (第9条). Each
count equals a direct count of the records behind it and of the drill-down list; out of scope is a 404; the page
costs the same number of queries whatever the number of units."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import changes as cf
from tests.factories import core as f
from tests.oversight.seed import seed_violations
from xueji.accounts.enums import Role
from xueji.changes.models import ApprovalStep, ChangeRequest
from xueji.core.masking import mask_name
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment, ProblemRecord

METRICS = ("archives", "steps", "transfers", "problems")


def direct_counts(unit: OrgUnit) -> dict[str, int]:
    """The records behind each metric in ``unit``'s subtree, counted straight from the tables (defaults:
    refusals in the last 90 days, problems open for more than 30 days)."""
    today, now = timezone.localdate(), timezone.now()
    return {
        "archives": Enrollment.objects.filter(
            scope_path__startswith=unit.path, is_active=True, archive_completed_at=None, archive_due__lt=today
        ).count(),
        "steps": ApprovalStep.objects.filter(
            org_unit__path__startswith=unit.path, state="pending", due_on__lt=today
        ).count(),
        "transfers": ChangeRequest.objects.filter(
            kind="transfer",
            state="rejected",
            steps__state="rejected",
            steps__org_unit__path__startswith=unit.path,
            steps__decided_at__gte=now - timedelta(days=91),
        ).count(),
        "problems": ProblemRecord.objects.filter(
            scope_path__startswith=unit.path, state="open", due_on__lt=timezone.localdate(now)
        ).count(),
    }


def page_counts(client: Any, unit: OrgUnit, child: OrgUnit) -> dict[str, int]:
    html = client.get(reverse("oversight:unit", args=[unit.pk])).content.decode()
    row = re.search(rf'<tr data-unit="{child.pk}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {child.name}"
    out = {}
    for m in METRICS:
        cell = re.search(rf'data-metric="{m}">(.*?)</td>', row.group(1), re.S)
        assert cell
        out[m] = int(re.sub(r"<[^>]+>", "", cell.group(1)).strip())
    return out


@pytest.fixture
def violations(school_a, school_b):  # type: ignore[no-untyped-def]
    seed_violations(school_a, school_b)


@pytest.mark.django_db
def test_city_counts_per_county_equal_the_records_behind_them(client, school_a, school_b, violations):
    city = f.dept("440100")
    client.force_login(cf.dept_registrar("440100"))
    for school in (school_a, school_b):
        county = school.org.parent
        shown = page_counts(client, city, county)
        assert shown == direct_counts(county)
        for m in METRICS:  # the drill-down lists exactly the records counted
            r = client.get(reverse("oversight:items", args=[county.pk, m]))
            assert r.status_code == 200
            assert len(r.context["item_rows"]) == shown[m]
    # the fixture's own arithmetic, so a query that counts nothing cannot pass
    assert page_counts(client, city, school_a.org.parent) == {
        "archives": 2,
        "steps": 2,
        "transfers": 0,
        "problems": 1,
    }
    assert page_counts(client, city, school_b.org.parent) == {
        "archives": 1,
        "steps": 1,
        "transfers": 1,
        "problems": 2,
    }


@pytest.mark.django_db
def test_county_counts_per_school_and_own_steps_go_to_the_level_above(client, school_a, violations):
    county = school_a.org.parent
    client.force_login(cf.dept_registrar("440105"))
    shown = page_counts(client, county, school_a.org)
    assert shown == direct_counts(school_a.org)
    # 海珠区's own overdue step belongs to no school: it shows on the city's page, not the county's
    assert direct_counts(county)["steps"] == shown["steps"] + 1


@pytest.mark.django_db
def test_the_window_changes_what_counts_and_bad_input_names_the_field(client, school_a, school_b, violations):
    city = f.dept("440100")
    county_b = school_b.org.parent
    client.force_login(cf.dept_registrar("440100"))
    today = timezone.localdate()
    r = client.get(
        reverse("oversight:unit", args=[city.pk]),
        {"start": (today - timedelta(days=500)).isoformat(), "end": today.isoformat()},
    )
    html = r.content.decode()
    row = re.search(rf'<tr data-unit="{county_b.pk}">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.search(r'data-metric="transfers"><a[^>]*>2<', row)  # the refusal of 400 days ago now counts
    assert re.search(
        r'data-metric="problems"><a[^>]*>2<', row
    )  # past their own deadline, whatever the window
    bad = client.get(reverse("oversight:unit", args=[city.pk]), {"start": "2026-13-01"})
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "统计起始日期" in text and 'data-testid="oversight"' not in text
    reversed_ = client.get(
        reverse("oversight:unit", args=[city.pk]), {"start": "2026-06-01", "end": "2026-05-01"}
    )
    assert "统计截止日期不能早于起始日期" in reversed_.content.decode()


@pytest.mark.django_db
def test_drill_down_masks_names(client, school_a, violations):
    client.force_login(cf.dept_registrar("440105"))
    r = client.get(reverse("oversight:items", args=[school_a.org.pk, "archives"]))
    rows = r.context["item_rows"]
    assert rows
    for row in rows:
        full = row["obj"].person.name
        assert row["name"] == mask_name(full)
        assert full not in r.content.decode()


@pytest.mark.django_db
def test_out_of_scope_units_and_unknown_metrics_are_404(client, school_a, school_b, violations):
    county_a = school_a.org.parent
    client.force_login(cf.dept_registrar("440105"))
    assert client.get(reverse("oversight:unit", args=[school_b.org.pk])).status_code == 404
    assert client.get(reverse("oversight:unit", args=[school_b.org.parent.pk])).status_code == 404
    assert client.get(reverse("oversight:unit", args=[county_a.parent.pk])).status_code == 404
    assert client.get(reverse("oversight:items", args=[school_b.org.pk, "archives"])).status_code == 404
    assert client.get(reverse("oversight:items", args=[county_a.pk, "nothing"])).status_code == 404
    assert client.get(reverse("oversight:unit", args=[999_999])).status_code == 404
    assert client.get(reverse("oversight:overview")).context["unit"] == county_a


@pytest.mark.django_db
def test_school_registrar_sees_their_own_school_only(client, school_a, school_b, violations):
    client.force_login(f.registrar(school_a))
    r = client.get(reverse("oversight:overview"))
    assert r.status_code == 200 and r.context["unit"] == school_a.org
    assert page_counts(client, school_a.org, school_a.org) == direct_counts(school_a.org)
    assert client.get(reverse("oversight:unit", args=[school_a.org.parent.pk])).status_code == 404
    assert client.get(reverse("oversight:unit", args=[school_b.org.pk])).status_code == 404


@pytest.mark.django_db
def test_admin_roles_and_unfiled_registrars_see_nothing(client, school_a, violations):
    client.force_login(f.user(Role.SYSTEM_ADMIN, f.dept("440105")))
    assert client.get(reverse("oversight:overview")).status_code == 404
    client.force_login(f.user(Role.DEPT_REGISTRAR, f.dept("440105"), filed=False))
    assert client.get(reverse("oversight:overview")).status_code == 403


@pytest.mark.django_db
def test_nav_entry_for_department_users_only(client, school_a):
    url = reverse("oversight:overview")
    client.force_login(cf.dept_registrar("440105"))
    assert url in client.get(reverse("dashboard:dashboard")).content.decode()
    client.force_login(f.registrar(school_a))
    assert f'href="{url}"' not in client.get(reverse("dashboard:dashboard")).content.decode()


@pytest.mark.django_db
def test_no_query_per_unit(client, school_a, school_b, violations, django_assert_max_num_queries):
    """One GROUP BY per metric: the province page (21 cities) and the county page cost the same."""
    province = f.dept("440000")
    client.force_login(cf.dept_registrar("440000"))
    for _ in range(3):
        f.school("440105")

    def cost(unit: OrgUnit) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("oversight:unit", args=[unit.pk])).status_code == 200
        return len(ctx.captured_queries)

    assert OrgUnit.objects.filter(parent=province).count() > 10
    assert cost(province) == cost(school_a.org.parent)
    with django_assert_max_num_queries(17):  # one GROUP BY per metric (9) + session, user, grants, units
        client.get(reverse("oversight:unit", args=[province.pk]))
