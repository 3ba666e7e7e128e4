"""Helpers every server-rendered page shares: domain refusals as HTTP answers, pagination, optional URLs.

No domain code: an out-of-jurisdiction object is a 404 (architecture.md §3), decided by the apps' queries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from xueji.core.errors import Forbidden, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.pagination import CappedPaginator
from xueji.core.ratelimit import RateLimited

PAGE_SIZE = 50


def ui_errors(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Turn domain refusals into HTTP answers: NotFound → 404 (never a hint of the object), Forbidden → 403,
    RateLimited → a Chinese 429 page (an htmx fragment for htmx requests; issue #6 §3.10)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except RateLimited as exc:
            return rate_limited_response(request, exc)

    return wrapper


def rate_limited_response(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """429 with the limit's Chinese message and a ``Retry-After`` header; htmx gets the fragment only."""
    template = "core/_rate_limited.html" if is_htmx(request) else "core/rate_limited.html"
    response = render(request, template, {"message": exc.message}, status=exc.status)
    response["Retry-After"] = str(exc.retry_after)
    return response


def paginate(
    request: HttpRequest, object_list: QuerySet[Any] | Sequence[Any], per_page: int = PAGE_SIZE
) -> Page:
    """The requested page of a list; the count stops at :data:`~xueji.core.pagination.COUNT_CAP` (the pager
    then says "1 万+"), so a page of a province's records does not count them all (issue 7)."""
    return CappedPaginator(object_list, per_page).get_page(request.GET.get("page"))


def url_or_none(name: str, *args: Any) -> str | None:
    """Reverse a url name that another app may not have wired yet."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return None
