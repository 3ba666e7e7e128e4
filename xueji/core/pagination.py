"""Page slicing shared by the API routers."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> tuple[list[Any], int]:
    """Items of 1-based ``page`` and the total count."""
    start = (page - 1) * page_size
    return list(qs[start : start + page_size]), qs.count()
