"""The staff REST API: /api/v1/ with OpenAPI at /api/v1/openapi.json and docs at /api/v1/docs.

One error shape everywhere: ``{code, message, fields}`` (architecture.md convention 10).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from csp.decorators import csp_update
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from xueji.accounts.auth import SessionAuth, TokenAuth
from xueji.core.errors import ApplicationError

logger = logging.getLogger(__name__)

ERROR_SCHEMA = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {
        "code": {"title": "Code", "type": "string"},
        "message": {"title": "Message", "type": "string"},
        "fields": {"title": "Fields", "type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["code", "message", "fields"],
}
_GLOBAL_ERRORS = {
    "400": "请求无效：含空字符（\\0）、请求体无法解析或 multipart 缺少 boundary",
    "401": "未登录或令牌无效",
    "422": "请求参数有误（fields 指明字段）",
}


class XuejiAPI(NinjaAPI):
    """Declares in the OpenAPI schema the error responses the handlers below give on EVERY operation
    (400 bad body/NUL, 401 on authenticated operations, 422 on operations with input), so that the
    schema tells clients the truth without each endpoint repeating them (issue #6 §3.9)."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorOut", ERROR_SCHEMA)
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                applies = {
                    "400": True,
                    "401": bool(operation.get("security")),
                    "422": bool(operation.get("parameters") or operation.get("requestBody")),
                }
                for status, description in _GLOBAL_ERRORS.items():
                    if applies[status] and status not in responses and int(status) not in responses:
                        responses[status] = {"description": description, **ref}
        return schema


api = XuejiAPI(
    title="学籍 xueji API",
    version="1",
    description="中小学生学籍管理系统接口（《中小学生学籍管理办法》教基〔2025〕1号）。所有读写均限定在调用者的管辖范围内。",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs_url="/docs",
    # Swagger UI runs under the site's CSP (no inline script or style); it only needs its data: SVG icons.
    docs_decorator=csp_update({"img-src": ["data:"]}),
)


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    retry_after = getattr(exc, "retry_after", None)  # rate_limited (429, issue #6 §3.10)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _loc(error: dict) -> str:
    parts = [str(p) for p in error.get("loc", ()) if p not in {"body", "query", "path", "payload"}]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = {_loc(e): f"{_loc(e)}：输入无效（{e.get('msg', '')}）" for e in exc.errors}
    body = {"code": "invalid_input", "message": "请求参数有误", "fields": fields}
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, {"code": "unauthenticated", "message": "请先登录或提供有效令牌", "fields": {}}, status=401
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    known = {
        "Cannot parse request body": ("invalid_body", "请求体不是有效的 JSON"),
        "CSRF check Failed": ("csrf_failed", "CSRF 校验失败，请刷新页面后重试"),
    }
    text = str(exc)
    key = next((k for k in known if text.startswith(k)), text)
    code, message = known.get(key, (f"http_{exc.status_code}", text))
    return api.create_response(
        request, {"code": code, "message": message, "fields": {}}, status=exc.status_code
    )


@api.exception_handler(MultiPartParserError)
def multipart_error(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """A multipart body without a boundary or cut short is the client's fault: 400, not 500 (issue #6 §3.9)."""
    body = {
        "code": "invalid_body",
        "message": "请求体不是有效的 multipart/form-data（缺少或错误的 boundary）",
        "fields": {},
    }
    return api.create_response(request, body, status=400)


@api.exception_handler(RawPostDataException)
def form_body_error(request: HttpRequest, exc: RawPostDataException) -> HttpResponse:
    """A form-encoded body posted to a JSON operation with the session cookie: the CSRF check has read the form,
    so the body is gone — the client's fault (the operation takes JSON): 400, not 500."""
    body = {
        "code": "invalid_body",
        "message": "请求体须为 JSON（Content-Type: application/json）",
        "fields": {},
    }
    return api.create_response(request, body, status=400)


@api.exception_handler(DataError)
@api.exception_handler(OverflowError)
def out_of_range_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Backstop for input the database cannot represent (an integer beyond 64 bits, a NUL in text): the
    request is refused with 400, never a 500. Inputs are bounded where they are declared (``page`` ≤
    MAX_PAGE, NUL refused by ``RejectBadInputMiddleware``); this logs what slipped past so it can be bounded too."""
    logger.warning("Input out of range on %s: %s", request.path, exc)
    body = {"code": "invalid_input", "message": "请求参数超出允许的范围", "fields": {}}
    return api.create_response(request, body, status=400)


def _mount() -> None:
    """Each app contributes one router (``xueji/<app>/api.py``), mounted under its prefix."""
    for app, prefix in (
        ("accounts", "auth"),
        ("regions", "orgs"),
        ("schools", "schools"),
        ("students", "students"),
        ("imports", "imports"),
        ("policies", "policies"),
        ("audit", "audit"),
        ("changes", "changes"),
        ("statistics", "statistics"),
        ("dropouts", "dropouts"),
        ("checks", "checks"),
        ("verification", "verification"),
        ("certificates", "certificates"),
        ("exports", "exports"),
        ("identity", "identity"),
    ):
        try:
            module = importlib.import_module(f"xueji.{app}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"xueji.{app}.api":
                raise
            continue
        api.add_router(f"/{prefix}/", module.router)


_mount()
