"""English: dates as YYYY-MM-DD, exactly as in Chinese (config/formats/zh_Hans) — a date reads the same in
both languages and whatever the browser's locale (issue 8 item 12)."""

from config.formats.zh_Hans.formats import (  # noqa: F401 - re-exported as this locale's formats
    DATE_FORMAT,
    DATE_INPUT_FORMATS,
    DATETIME_FORMAT,
    DATETIME_INPUT_FORMATS,
    DECIMAL_SEPARATOR,
    FIRST_DAY_OF_WEEK,
    MONTH_DAY_FORMAT,
    NUMBER_GROUPING,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    THOUSAND_SEPARATOR,
    TIME_FORMAT,
    YEAR_MONTH_FORMAT,
)
