"""Page slicing shared by the API routers and the pages; counts capped for lists that reach a million rows.

Page numbers are bounded (:data:`MAX_PAGE`): an unbounded ``page`` overflows the database's 64-bit
LIMIT/OFFSET (SQLite "datatype mismatch", PostgreSQL "bigint out of range") and answered 500 (issue #6 §3.9).
Schemas declare ``le=MAX_PAGE`` so the OpenAPI schema says so and a bad value is a 422 naming ``page``;
:func:`page_of` refuses it as well for callers that bypass a schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .errors import FieldError

# 10 million pages of up to 200 rows each covers every list the country has; offsets stay far below 2**63.
MAX_PAGE = 10_000_000

#: Lists that can reach a region's million students count exactly up to here and say "1 万+" beyond
#: (issue 7): an exact count of a county or province costs a scan of every matching row on each page view.
COUNT_CAP = 10_000

#: The page sizes a page offers (issue 8 item 11); anything else asked for is the default.
PAGE_SIZES = (20, 50, 100)
DEFAULT_PAGE_SIZE = 50
#: Page numbers shown on each side of the current one in a pager.
PAGE_WINDOW = 2


def page_out_of_range() -> FieldError:
    return FieldError("page", "invalid_input", f"page：页码须在 1 到 {MAX_PAGE} 之间")


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> tuple[list[Any], int]:
    """Items of 1-based ``page`` and the total count. Raises ``invalid_input`` (field ``page``) for a page
    number outside 1 … :data:`MAX_PAGE`."""
    if not 1 <= page <= MAX_PAGE:
        raise page_out_of_range()
    start = (page - 1) * page_size
    return list(qs[start : start + page_size]), qs.count()


def capped_count(qs: QuerySet[Any] | Sequence[Any], cap: int | None = None) -> int:
    """The number of rows of ``qs`` if it is at most ``cap``, else ``cap + 1`` ("more than cap"): a count
    over ``LIMIT cap + 1`` without the ordering, so its cost is bounded by the cap, not by the region."""
    limit = (COUNT_CAP if cap is None else cap) + 1
    if not isinstance(qs, QuerySet):
        return min(len(qs), limit)
    return qs.order_by().values("pk")[:limit].count()


def capped_total(qs: QuerySet[Any]) -> tuple[int, bool]:
    """The :func:`capped_count` of ``qs`` as ``(count up to the cap, exact?)``."""
    count = capped_count(qs)
    return min(count, COUNT_CAP), count <= COUNT_CAP


def capped_page_of(qs: QuerySet[Any], page: int, page_size: int) -> tuple[list[Any], int, bool]:
    """Like :func:`page_of` with a :func:`capped_count`: items, count, and whether the count is exact."""
    if not 1 <= page <= MAX_PAGE:
        raise page_out_of_range()
    start = (page - 1) * page_size
    items = list(qs[start : start + page_size])
    if page == 1 and len(items) < page_size:
        return items, len(items), True  # the whole list is on this page: no count query
    return (items, *capped_total(qs))


def page_size_param(value: str | None) -> int:
    """The ``size`` query parameter of a page: one of :data:`PAGE_SIZES`, else :data:`DEFAULT_PAGE_SIZE`."""
    try:
        size = int(value or "")
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def page_links(number: int, num_pages: int, *, capped: bool = False) -> list[int | None]:
    """The page numbers a pager links to around page ``number``: the first, :data:`PAGE_WINDOW` on each side,
    the last — ``None`` where numbers are left out (an ellipsis). A capped list (more than :data:`COUNT_CAP`
    rows) has no known last page: it ends with an ellipsis after the window instead."""
    low, high = max(1, number - PAGE_WINDOW), min(num_pages, number + PAGE_WINDOW)
    links: list[int | None] = []
    if low > 1:
        links.append(1)
        if low > 2:
            links.append(2 if low == 3 else None)  # an ellipsis never stands for one page
    links.extend(range(low, high + 1))
    if capped:
        links.append(None)
    elif high < num_pages:
        if high < num_pages - 1:
            links.append(num_pages - 1 if high == num_pages - 2 else None)
        links.append(num_pages)
    return links


class CappedPage(Page):
    """A page that knows the page numbers its pager links to (:func:`page_links`)."""

    paginator: CappedPaginator

    @property
    def links(self) -> list[int | None]:
        return page_links(self.number, self.paginator.num_pages, capped=self.paginator.capped)


class CappedPaginator(Paginator):
    """A Django paginator whose count stops at :data:`COUNT_CAP` (``capped`` says so; the pager then shows
    "1 万+" and asks to narrow the search). Pages run up to the cap; a page number beyond it shows the last
    of them. The API walks a whole long list with keyset pagination instead (``after``)."""

    @cached_property
    def count(self) -> int:
        return capped_count(cast("QuerySet[Any] | Sequence[Any]", self.object_list))

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    def _get_page(self, *args: Any, **kwargs: Any) -> CappedPage:
        return CappedPage(*args, **kwargs)


def batch_after(rows: Any, offset: int, size: int) -> tuple[list[Any], int | None]:
    """``size`` rows of ``rows`` (a queryset or a list) from ``offset`` and the offset of the next batch, or
    ``None`` when there is none — one query of ``size + 1`` rows, no count. Long histories show their latest
    rows and load the rest on demand (issue 7: a record page whose cost does not grow with its history)."""
    offset = max(0, min(offset, MAX_PAGE))
    batch = list(rows[offset : offset + size + 1])
    return batch[:size], (offset + size if len(batch) > size else None)


def offset_param(value: str | None) -> int:
    """A non-negative ``offset`` query parameter (anything else is 0)."""
    try:
        return max(0, min(int(value or 0), MAX_PAGE))
    except ValueError:
        return 0
