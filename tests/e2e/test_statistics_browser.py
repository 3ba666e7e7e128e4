"""Browser test of the statistics page (第5、23条) in headless Chromium at 1280 px and 390 px: every table gets
its ECharts bar chart (drawn by static/js/charts.js under the strict CSP), the table's numbers equal the API's,
and the county drills down to its schools. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot
from tests.factories import core as f
from tests.factories import students as sf
from xueji.statistics.services import snapshot_rebuild
from xueji.students.models import Enrollment

pytestmark = pytest.mark.e2e

# A bar of the chart drawn for a table (ECharts' SVG renderer; the bar colour is set in static/js/charts.js).
BAR = '[data-chart-for=stat-table-{by}] svg path[fill="#1d4f91"]'


def _login(context: object, live_server: object, username: str) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/login/")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")  # type: ignore[attr-defined]
    return page


def _table(page: object, by: str) -> dict[str, int]:
    rows = page.eval_on_selector_all(  # type: ignore[attr-defined]
        f"#stat-table-{by} tbody tr[data-key]",
        "rs => rs.map(r => [r.dataset.key, Number(r.querySelector('[data-value]').dataset.value)])",
    )
    return dict(rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_statistics_charts_and_numbers(live_server, browser, width):  # type: ignore[no-untyped-def]
    f.departments()
    one = f.school("440105", "nine_year", name="海珠区九年一贯制学校")
    two = f.school("440105", "primary", name="海珠区第二小学")
    for i, (school, grade, gender) in enumerate([(one, 1, "1"), (one, 1, "2"), (one, 8, "2"), (two, 3, "1")]):
        e = sf.student(school, name=f"学生{f.han_digits(i + 1)}", gender=gender)
        Enrollment.objects.filter(pk=e.pk).update(grade=grade, stage="junior" if grade >= 7 else "primary")
    snapshot_rebuild()
    county = f.dept("440105")
    f.user("dept_registrar", county, username="haizhu")

    options = {"viewport": {"width": width, "height": 900}, "locale": "zh-CN"}
    if width < 500:
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    page = _login(context, live_server, "haizhu")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.goto(f"{live_server.url}/statistics/")  # type: ignore[attr-defined]
    for by in ("region", "grade", "gender", "status", "stage"):
        page.wait_for_selector(BAR.format(by=by))  # type: ignore[attr-defined]
        api = page.evaluate(  # type: ignore[attr-defined]
            "u => fetch(u).then(r => r.json())", f"/api/v1/statistics/counts?unit={county.pk}&by={by}"
        )
        assert _table(page, by) == {r["key"]: r["count"] for r in api["rows"]}
    assert _table(page, "region")[str(one.org.pk)] == 3
    page.locator(BAR.format(by="grade")).first.hover()  # type: ignore[attr-defined]  # tooltip vs CSP
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    assert not [e for e in errors if "Content Security Policy" in e], errors
    width_px = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert width_px <= width, f"statistics page scrolls sideways at {width}px ({width_px}px)"
    shot(page, f"statistics-county-{width}")

    page.click(f"#stat-table-region a[href$='unit={one.org.pk}']")  # type: ignore[attr-defined]
    page.wait_for_selector(BAR.format(by="grade"))  # type: ignore[attr-defined]
    bars = page.locator(BAR.format(by="grade")).count()  # type: ignore[attr-defined]
    assert bars == 2, bars  # one bar per grade row
    assert page.locator("[data-testid=stat-region]").count() == 0  # type: ignore[attr-defined]
    assert _table(page, "grade") == {"1": 2, "8": 1}
    shot(page, f"statistics-school-{width}")
    context.close()  # type: ignore[attr-defined]
