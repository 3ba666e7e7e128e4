"""Error pages (issue #6 §1): Chinese, in the site's layout, with a way back; JSON under ``/api/``.

Wired in ``config/urls.py`` (``handler400/403/404/500``) and ``CSRF_FAILURE_VIEW``. Pages never show the
exception's text (it may name an object outside the viewer's jurisdiction, architecture.md §3). Under
``/api/`` every answer keeps the one error shape ``{code, message, fields}`` (architecture.md convention 10).

The 500 page renders a standalone copy of the layout without a request context: the context processors
(navigation reads role grants) and the database may be what failed.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

# status → (code, page title, message)
ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求无效", "请求无法处理，请检查输入或返回上一页重试。"),
    403: ("forbidden", "无权访问", "您的角色无权访问此页面或执行此操作。"),
    404: ("not_found", "页面不存在", "页面不存在，或所请求的对象不在您的管辖范围内。"),
    500: (
        "server_error",
        "服务器内部错误",
        "服务器处理请求时出错，已记录。请稍后重试；如果问题持续，请联系系统管理员。",
    ),
}
CSRF_ERROR = (
    "csrf_failed",
    "页面已过期",
    "页面已过期或表单来源无法核实（CSRF 校验失败）。请返回上一页、刷新后重新提交。",
)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _api(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"code": code, "message": message, "fields": {}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def _page(request: HttpRequest, status: int, code: str, title: str, message: str) -> HttpResponse:
    if is_api(request):
        return _api(code, message, status)
    context = {"status": status, "code": code, "title": title, "message": message}
    try:
        return render(request, "errors/error.html", context, status=status)
    except Exception:  # the layout itself failed (e.g. a context processor): fall back to the standalone page
        log.exception("error page %s: layout failed, rendering the standalone page", status)
        return _standalone(status, code, title, message)


def _standalone(status: int, code: str, title: str, message: str) -> HttpResponse:
    try:
        css = static("css/app.css")
    except Exception:  # no manifest entry: the page stays legible without the stylesheet
        css = ""
    html = loader.get_template("errors/standalone.html").render(
        {"status": status, "code": code, "title": title, "message": message, "css": css}
    )
    return HttpResponse(html, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 400, *ERRORS[400])


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403, *ERRORS[403])


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, *ERRORS[404])


def server_error(request: HttpRequest) -> HttpResponse:
    code, title, message = ERRORS[500]
    if is_api(request):
        return _api(code, message, 500)
    return _standalone(500, code, title, message)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the reason (e.g. "Referer checking failed") goes to the log, not to the page."""
    log.warning("CSRF failure on %s: %s", request.path_info, reason)
    return _page(request, 403, *CSRF_ERROR)
