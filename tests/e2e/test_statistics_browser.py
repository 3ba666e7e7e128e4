"""Browser test of the statistics page (第5、23条) in headless Chromium at 1280 px and 390 px: every table gets
its ECharts chart (bars, a treemap of the region's children, stacked bars of grade × sex and class × sex,
lines of the monthly flows — drawn by static/js/charts.js under the strict CSP), the numbers each chart holds
equal the API's, the county drills down to a school, its grade and the grade's classes. Screenshots go to
``var/screenshots/``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.e2e.conftest import shot
from tests.factories import core as f
from tests.factories import students as sf
from xueji.changes.models import ChangeRequest
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment, Person

pytestmark = pytest.mark.e2e

# The dimensions of a county's page, each with the chart drawn beside its table.
COUNTY = {
    "region": ("treemap", "bar"),
    "grade": ("stacked",),
    "gender": ("bar",),
    "ethnicity": ("bar",),
    "status": ("bar",),
    "stage": ("bar",),
    "household_type": ("bar",),
    "migrant_child": ("bar",),
    "left_behind": ("bar",),
    "disabled": ("bar",),
}
SPLIT = {"grade": "gender", "class": "gender"}

# What a drawn chart holds, read back from its ECharts instance: {series name: {category: value}}.
CHART_NUMBERS = """([id, type]) => {
  const box = document.querySelector(`[data-chart-for="${id}"][data-chart-type="${type}"]`);
  const option = window.echarts.getInstanceByDom(box).getOption();
  const out = {};
  option.series.forEach(s => {
    const named = {};
    if (type === "treemap") s.data.forEach(d => { named[d.name] = d.value; });
    else option.xAxis[0].data.forEach((label, i) => { named[label] = s.data[i]; });
    out[s.name] = named;
  });
  return out;
}"""


def _login(context: Any, live_server: Any, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _table(page: Any, by: str) -> dict[str, int]:
    rows = page.eval_on_selector_all(
        f"#stat-table-{by} tbody tr[data-key]",
        "rs => rs.map(r => [r.dataset.key, Number(r.querySelector('[data-value]').dataset.value)])",
    )
    return dict(rows)


def _api(page: Any, url: str) -> Any:
    return page.evaluate("u => fetch(u).then(r => r.json())", url)


def _check_charts(
    page: Any, unit_id: int, by: str, types: tuple[str, ...], grade: int | None = None, *, as_of: str = ""
) -> None:
    """Each chart of the table is drawn (SVG shapes present) and holds exactly the API's numbers (of the
    snapshot of ``as_of`` when given)."""
    url = f"/api/v1/statistics/counts?unit={unit_id}&by={by}"
    if grade is not None:
        url += f"&grade={grade}"
    if as_of:
        url += f"&as_of={as_of}"
    if by in SPLIT:
        url += f"&split={SPLIT[by]}"
    api = _api(page, url)
    assert _table(page, by) == {r["key"]: r["count"] for r in api["rows"]}
    for chart in types:
        box = f'[data-chart-for="stat-table-{by}"][data-chart-type="{chart}"]'
        page.wait_for_selector(f"{box}[data-chart-ready] svg path:not([fill=none])", state="attached")
        shapes = page.locator(f"{box} svg path:not([fill=none])").count()
        assert shapes >= len([r for r in api["rows"] if r["count"]]), (by, chart, shapes)
        numbers = page.evaluate(CHART_NUMBERS, [f"stat-table-{by}", chart])
        if chart == "stacked":
            labels = {"1": "男", "2": "女"}
            expected = {
                labels[k]: {r["label"]: r["parts"][k] for r in api["rows"]} for k in api["rows"][0]["parts"]
            }
            assert numbers == expected, (by, numbers, expected)
        else:
            [(_name, values)] = numbers.items()
            assert values == {r["label"]: r["count"] for r in api["rows"]}, (by, chart, values)


def _check_flows(page: Any, unit_id: int) -> None:
    """The flows line chart holds the API's monthly numbers, one line per kind."""
    api = _api(page, f"/api/v1/statistics/flows?unit={unit_id}")
    box = '[data-chart-for="stat-table-flows"][data-chart-type="line"]'
    page.wait_for_selector(f"{box}[data-chart-ready] svg path", state="attached")
    numbers = page.evaluate(CHART_NUMBERS, ["stat-table-flows", "line"])
    expected = {k["label"]: {m["month"]: m["counts"][k["key"]] for m in api["months"]} for k in api["kinds"]}
    assert numbers == expected
    totals = {k["key"]: k["total"] for k in api["kinds"]}
    assert (totals["transfer_out"], totals["transfer_in"], totals["suspension"], totals["graduation"]) == (
        1,
        1,
        1,
        1,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_statistics_charts_and_numbers(live_server, browser, width):  # type: ignore[no-untyped-def]
    f.departments()
    one = f.school("440105", "nine_year", name="海珠区九年一贯制学校")
    two = f.school("440105", "primary", name="海珠区第二小学")
    plan = [
        (one, 1, "1", "1班"),
        (one, 1, "2", "2班"),
        (one, 1, "2", "2班"),
        (one, 8, "2", "1班"),
        (two, 3, "1", "1班"),
    ]
    for i, (school, grade, gender, class_name) in enumerate(plan):
        e = sf.student(school, name=f"学生{f.han_digits(i + 1)}", gender=gender)
        stage = "junior" if grade >= 7 else "primary"
        Enrollment.objects.filter(pk=e.pk).update(grade=grade, stage=stage, class_name=class_name)
        if i == 1:
            Person.objects.filter(pk=e.person_id).update(
                ethnicity="08", migrant_child=True, left_behind="1", household_type="1"
            )
        if i == 3:
            person = Person.objects.get(pk=e.person_id)  # the category is encrypted: written through save()
            person.disability_type = "4"
            person.save(update_fields=["disability_type"])
    county = f.dept("440105")
    f.user("dept_registrar", county, username="haizhu")
    this_month = timezone.localdate().replace(day=1)
    moved = Enrollment.objects.filter(school=one).first()
    assert moved is not None
    for kind, on, target in [
        ("transfer", this_month, two),
        ("suspension", this_month, None),
        ("graduation", (this_month - timedelta(days=1)).replace(day=1), None),
    ]:
        ChangeRequest.objects.create(
            kind=kind,
            state="approved",
            person_id=moved.person_id,
            enrollment=moved,
            province_code="440000",
            source_path=one.org.path,
            target_path=target.org.path if target else "",
            target_school=target,
            created_by=f.registrar(one),
            initiator_org=one.org,
            effective_on=on,
        )
    # an earlier snapshot (counts as of a date) with one more pupil, who has left since
    earlier = timezone.localdate() - timedelta(days=2)
    temp = sf.student(two, name="学生六", gender="1")
    snapshot_rebuild(earlier)
    Enrollment.objects.filter(pk=temp.pk).update(is_active=False, status="10")
    snapshot_rebuild()

    options: dict[str, Any] = {"viewport": {"width": width, "height": 900}, "locale": "zh-CN"}
    if width < 500:
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    page = _login(context, live_server, "haizhu")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/statistics/")
    for by, types in COUNTY.items():
        _check_charts(page, county.pk, by, types)
    assert _table(page, "region")[str(one.org.pk)] == 4
    assert _table(page, "ethnicity") == {"01": 4, "08": 1}
    _check_flows(page, county.pk)
    page.locator(
        '[data-chart-for="stat-table-grade"] svg path:not([fill=none])'
    ).first.hover()  # tooltip vs CSP
    page.wait_for_timeout(300)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    width_px = page.evaluate("document.documentElement.scrollWidth")
    assert width_px <= width, f"statistics page scrolls sideways at {width}px ({width_px}px)"
    shot(page, f"statistics-county-{width}")

    # county → school (a click on the school's rectangle in the treemap, on its label)
    treemap = '[data-chart-for="stat-table-region"][data-chart-type="treemap"]'
    page.locator(f"{treemap} svg text", has_text="海珠区九年一贯制学校").first.click()
    page.wait_for_url(f"**/statistics/?unit={one.org.pk}")
    assert page.locator("[data-testid=stat-region]").count() == 0
    _check_charts(page, one.org.pk, "grade", ("stacked",))
    assert _table(page, "grade") == {"1": 3, "8": 1}
    shot(page, f"statistics-school-{width}")

    # school → grade → classes
    page.click(f"#stat-table-grade a[href$='unit={one.org.pk}&grade=1']")
    page.wait_for_url(f"**/statistics/?unit={one.org.pk}&grade=1")
    _check_charts(page, one.org.pk, "class", ("stacked",), grade=1)
    assert _table(page, "class") == {"1班": 1, "2班": 2}
    for by in ("gender", "ethnicity", "migrant_child"):
        _check_charts(page, one.org.pk, by, ("bar",), grade=1)
    assert page.locator("[data-testid=stat-trail]").inner_text().endswith("一年级")
    width_px = page.evaluate("document.documentElement.scrollWidth")
    assert width_px <= width, f"grade page scrolls sideways at {width}px ({width_px}px)"
    shot(page, f"statistics-grade-{width}")

    # the county as of the earlier date, chosen in the date select: its charts hold that day's API numbers
    day = earlier.isoformat()
    page.goto(f"{live_server.url}/statistics/")
    page.select_option("[data-testid=stat-date] select", day)
    page.wait_for_url(f"**/statistics/?unit={county.pk}&as_of={day}")
    for by in ("region", "gender"):
        _check_charts(page, county.pk, by, COUNTY[by], as_of=day)
    assert _table(page, "region")[str(two.org.pk)] == 2  # the pupil who left since is in that day's count
    assert page.locator(f"#stat-table-region a[href$='unit={two.org.pk}&as_of={day}']").count() == 1
    width_px = page.evaluate("document.documentElement.scrollWidth")
    assert width_px <= width, f"dated page scrolls sideways at {width}px ({width_px}px)"
    shot(page, f"statistics-as-of-{width}")
    context.close()
