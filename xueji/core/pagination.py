"""Page slicing shared by the API routers.

Page numbers are bounded (:data:`MAX_PAGE`): an unbounded ``page`` overflows the database's 64-bit
LIMIT/OFFSET (SQLite "datatype mismatch", PostgreSQL "bigint out of range") and answered 500 (issue #6 §3.9).
Schemas declare ``le=MAX_PAGE`` so the OpenAPI schema says so and a bad value is a 422 naming ``page``;
:func:`page_of` refuses it as well for callers that bypass a schema.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .errors import FieldError

# 10 million pages of up to 200 rows each covers every list the country has; offsets stay far below 2**63.
MAX_PAGE = 10_000_000


def page_out_of_range() -> FieldError:
    return FieldError("page", "invalid_input", f"page：页码须在 1 到 {MAX_PAGE} 之间")


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> tuple[list[Any], int]:
    """Items of 1-based ``page`` and the total count. Raises ``invalid_input`` (field ``page``) for a page
    number outside 1 … :data:`MAX_PAGE`."""
    if not 1 <= page <= MAX_PAGE:
        raise page_out_of_range()
    start = (page - 1) * page_size
    return list(qs[start : start + page_size]), qs.count()
