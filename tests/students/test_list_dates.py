"""Dates are typed and shown as YYYY-MM-DD whatever the browser's locale and the page's language (issue 8 item
12): text boxes with a placeholder and a pattern, read on the server; no ``type="date"`` (shown in the
browser's locale format) and no ``type="month"`` (missing in older browsers) anywhere."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone, translation

from xueji.accounts.forms import FilingForm
from xueji.changes.kinds.progression import ProgressionForm
from xueji.changes.kinds.suspension import SuspensionForm
from xueji.core.dates import DAY_PATTERN, MONTH_PATTERN, DateTextInput, MonthTextInput, parse_day
from xueji.policies.forms import FilingForm as PolicyFilingForm
from xueji.students.forms import RegistrationForm


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2019-05-20", date(2019, 5, 20)),
        ("2019-5-2", date(2019, 5, 2)),
        ("2019/05/20", date(2019, 5, 20)),
        ("2019.5.20", date(2019, 5, 20)),
        ("20190520", date(2019, 5, 20)),
        ("２０１９－０５－２０", date(2019, 5, 20)),
        (" 2019-05-20 ", date(2019, 5, 20)),
        ("2019-02-30", None),
        ("05/20/2019", None),  # a US browser's format is not guessed at
        ("2019年5月20日", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_day(typed, day):
    assert parse_day(typed) == day


def test_the_patterns_accept_what_the_server_reads():
    day = re.compile(rf"^(?:{DAY_PATTERN.replace(chr(92) + '/', '/')})$")
    assert all(day.match(t) for t in ("2019-05-20", "2019/5/2", "2019.05.20", "20190520"))
    assert not day.match("05/20/2019")
    month = re.compile(rf"^(?:{MONTH_PATTERN})$")
    assert month.match("2026-09") and month.match("202609") and not month.match("09/2026")


def test_the_widgets_are_text_boxes_in_iso_format():
    html = DateTextInput().render("d", date(2026, 1, 5))
    assert 'type="text"' in html and 'value="2026-01-05"' in html and 'placeholder="YYYY-MM-DD"' in html
    assert 'inputmode="numeric"' in html and "pattern=" in html
    html = MonthTextInput().render("m", "202609")
    assert 'type="text"' in html and 'value="2026-09"' in html and 'placeholder="YYYY-MM"' in html
    assert 'value="2026-09"' in MonthTextInput().render("m", "2026-09")


def _inputs(html: str) -> list[str]:
    return re.findall(r"<input[^>]*>", html)


def test_every_date_box_of_the_forms_is_a_text_box():
    forms = {
        "registration": RegistrationForm(stages=["primary"], extra_specs=[], schools=[]),
        "suspension": SuspensionForm(),
        "progression": ProgressionForm(),
        "filing": FilingForm(),
        "policy filing": PolicyFilingForm(),
    }
    names = {
        "registration": ["birth_date", "entry_ym"],
        "suspension": ["start_date", "end_date"],
        "progression": ["entry_ym"],
        "filing": ["filed_on", "trained_on"],
        "policy filing": ["filed_on"],
    }
    for key, form in forms.items():
        for name in names[key]:
            html = str(form[name])
            assert 'type="text"' in html, (key, name)
            assert 'placeholder="YYYY-MM' in html, (key, name)
    assert ProgressionForm()["entry_ym"].value() == timezone.localdate().strftime("%Y-%m")


def test_the_filing_form_reads_the_typed_date():
    form = FilingForm({"filed_with_code": "440105", "filed_on": "2026/1/5", "trained_on": "20260110"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["filed_on"] == date(2026, 1, 5)
    assert form.cleaned_data["trained_on"] == date(2026, 1, 10)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_dates_are_shown_yyyy_mm_dd_in_both_languages(language):
    template = Template(
        '{{ d }}|{{ d|date }}|{{ t|date:"DATETIME_FORMAT" }}|{{ d|date:"SHORT_DATE_FORMAT" }}'
    )
    with translation.override(language):
        text = template.render(Context({"d": date(2026, 1, 5), "t": datetime(2026, 1, 5, 8, 3)}))
    assert text == "2026-01-05|2026-01-05|2026-01-05 08:03|2026-01-05"


def test_no_browser_date_or_month_inputs_remain():
    """No template or form asks the browser for its own date or month control."""
    base = Path(settings.BASE_DIR)
    offenders = []
    for path in [*base.joinpath("templates").rglob("*.html"), *base.joinpath("xueji").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"""type=["']?(date|month)["'\s>]|["']type["']\s*:\s*["'](date|month)["']""", text):
            offenders.append(str(path.relative_to(base)))
    assert offenders == []
