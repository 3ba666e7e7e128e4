"""parse_date's fast path (issue 7) reads exactly what the four strptime formats read, with the same result."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from xueji.core.errors import FieldError
from xueji.students.validation import DATE_FORMATS, parse_date

INPUTS = [
    "2018-03-14", "2018-3-4", "20180314", "2018/03/14", "2018.3.14", " 2018-03-14 ", "2018-02-30", "2018-13-01",
    "2018-03/14", "18-03-14", "2018314", "201803140", "2018-03-14T00:00", "2018年3月14日", "", "abc",
    "2020-02-29", "2019-02-29", "0000-01-01", "2018-003-14",
]  # fmt: skip


def _reference(raw: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    return None


@pytest.mark.parametrize("raw", INPUTS)
def test_fast_path_agrees_with_strptime(raw):
    expected = _reference(raw)
    if expected is None:
        with pytest.raises(FieldError) as exc:
            parse_date(raw, "birth_date", "出生日期")
        assert exc.value.field == "birth_date"
    else:
        assert parse_date(raw, "birth_date", "出生日期") == expected
