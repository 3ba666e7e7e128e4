"""The staff REST API: /api/v1/ with OpenAPI at /api/v1/openapi.json and docs at /api/v1/docs.

One error shape everywhere: ``{code, message, fields}`` (architecture.md convention 10).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from xueji.accounts.auth import SessionAuth, TokenAuth
from xueji.core.errors import ApplicationError

api = NinjaAPI(
    title="学籍 xueji API",
    version="1",
    description="中小学生学籍管理系统接口（《中小学生学籍管理办法》教基〔2025〕1号）。所有读写均限定在调用者的管辖范围内。",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs_url="/docs",
)


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


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
    return api.create_response(request, {"code": code, "message": message, "fields": {}}, status=exc.status_code)


def _mount() -> None:
    """Each app contributes one router (``xueji/<app>/api.py``), mounted under its prefix."""
    import importlib

    for app, prefix in (
        ("accounts", "auth"),
        ("regions", "orgs"),
        ("schools", "schools"),
        ("students", "students"),
        ("imports", "imports"),
        ("policies", "policies"),
        ("audit", "audit"),
        ("changes", "changes"),
    ):
        try:
            module = importlib.import_module(f"xueji.{app}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"xueji.{app}.api":
                raise
            continue
        api.add_router(f"/{prefix}/", module.router)


_mount()
