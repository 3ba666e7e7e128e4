"""Request-id and cache-control middleware."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.handlers.exception import response_for_exception
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from . import context

logger = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


#: Default of ``XUEJI_TRUSTED_PROXIES``: the reverse proxy on the same host (deploy/nginx/xueji.conf).
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")


def _trusted_proxies() -> frozenset[str]:
    return frozenset(
        str(a).strip() for a in getattr(settings, "XUEJI_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)
    )


def _address(value: str) -> str | None:
    """A valid IPv4/IPv6 address in its canonical text, or None (headers are client-controlled text)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (ASVS 15.4.3: a client cannot choose it).

    The peer address ``REMOTE_ADDR`` unless the peer is a trusted reverse proxy (``XUEJI_TRUSTED_PROXIES``,
    default the loopback addresses, where deploy/nginx/xueji.conf runs): then the proxy's ``X-Real-IP``
    (nginx sets it to ``$remote_addr``), else the right-most ``X-Forwarded-For`` entry that is not itself a
    trusted proxy (entries further left were written by the client and prove nothing). A header from any
    other peer is ignored, and an unparsable header value falls back to the peer address."""
    remote = request.META.get("REMOTE_ADDR")
    trusted = _trusted_proxies()
    if not remote or remote not in trusted:
        return remote
    real = _address(request.META.get("HTTP_X_REAL_IP", ""))
    if real is not None:
        return real
    forwarded = [a for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    for entry in reversed(forwarded):
        address = _address(entry)
        if address is None:
            break
        if address not in trusted:
            return address
    return remote


class RequestIdMiddleware:
    """Tags every request with an id (echoed as ``X-Request-ID``) that audit events carry."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = context.set_current(context.RequestContext(request_id=request_id, ip=client_ip(request)))
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """Authenticated pages carry personal data of minors: never cache them (等保 剩余信息保护)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/static/"):
            response["Cache-Control"] = "no-store"
        return response


NUL_CODE = "nul_character"
NUL_MESSAGE = "请求中含有不允许的空字符（\\0）"
BAD_VALUE_MESSAGE = "请求参数超出允许的范围"
BAD_MULTIPART_MESSAGE = "请求体不是有效的 multipart/form-data（缺少或错误的 boundary）"


def nul_field_message(name: str) -> str:
    return f"{name}：不能含有空字符（\\0）"


def _nul_fields_in_json(value: Any, name: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield name or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                yield name or "body"
            else:
                yield from _nul_fields_in_json(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields_in_json(item, f"{name}.{index}" if name else str(index))


def _nul_fields(request: HttpRequest) -> list[str]:
    """Names of the request inputs (query, form fields, JSON members) that contain a NUL character.
    Raises ``MultiPartParserError`` for a malformed multipart body."""
    found = ["path"] if "\x00" in request.path else []
    sources = [request.GET]
    content_type = request.content_type or ""
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        if content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            sources.append(request.POST)
        elif content_type == "application/json" or content_type.endswith("+json"):
            # not JSON, or nested too deep: the view refuses it
            with contextlib.suppress(ValueError, RecursionError):
                found.extend(_nul_fields_in_json(json.loads(request.body)))
    for source in sources:
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in v for v in values if isinstance(v, str)):
                found.append(key.replace("\x00", "") or "query")
    return list(dict.fromkeys(found))


def _refuse(request: HttpRequest, code: str, message: str, fields: dict[str, str]) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"code": code, "message": message, "fields": fields}
        return JsonResponse(
            body,
            status=400,
            content_type="application/json; charset=utf-8",
            json_dumps_params={"ensure_ascii": False},
        )
    raise BadRequest(message)


class RejectBadInputMiddleware:
    """Input no view can use is refused with a 400 before a view runs (issue #6 §3.9):

    - a NUL character anywhere (path, query, form field, JSON member): PostgreSQL text cannot hold one,
      so ``?q=%00`` reached the database and answered 500; no legitimate input contains one;
    - a multipart body without a (valid) boundary: Django raises ``MultiPartParserError`` on first access,
      then silently treats the body as empty.

    The API (``/api/``) gets the one error shape ``{code, message, fields}`` naming the inputs; pages get
    the 400 page (``BadRequest``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            fields = _nul_fields(request)
        except MultiPartParserError:
            return _refuse(request, "invalid_body", BAD_MULTIPART_MESSAGE, {})
        if not fields:
            return self.get_response(request)
        return _refuse(request, NUL_CODE, NUL_MESSAGE, {name: nul_field_message(name) for name in fields})

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Pages: input the database cannot represent (an integer beyond 64 bits in an address, text it
        refuses) is the client's fault, a 400 page, never a 500. The API has the same mapping in
        config/api.py. Logged, so that the input can be bounded where it is read."""
        if not isinstance(exception, (DataError, OverflowError)):
            return None
        logger.warning("Input out of range on %s: %s", request.path, exception)
        return response_for_exception(request, BadRequest(BAD_VALUE_MESSAGE))
