"""Error pages (issue #6 §1): Chinese, in the site's layout, with a way back; the JSON shape under /api/.

xueji/core/errors_views.py, wired by config/urls.py (handler400/403/404/500) and CSRF_FAILURE_VIEW.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

import config.urls
from tests.factories import accounts as fa
from xueji.core import errors_views


def _boom(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom: secret detail")


def _deny(request):  # type: ignore[no-untyped-def]
    raise PermissionDenied("detail that must not be shown")


# A URLconf with the product's routes and handlers plus views that fail (used via settings.ROOT_URLCONF).
urlpatterns = [path("boom/", _boom), path("api/boom/", _boom), path("deny/", _deny), *config.urls.urlpatterns]
handler400 = config.urls.handler400
handler403 = config.urls.handler403
handler404 = config.urls.handler404
handler500 = config.urls.handler500


@pytest.fixture
def failing(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


def test_handlers_are_wired():
    assert config.urls.handler400 == "xueji.core.errors_views.bad_request"
    assert config.urls.handler403 == "xueji.core.errors_views.permission_denied"
    assert config.urls.handler404 == "xueji.core.errors_views.page_not_found"
    assert config.urls.handler500 == "xueji.core.errors_views.server_error"


@pytest.mark.django_db
def test_404_in_chinese_in_the_layout_with_a_way_to_login(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<title>页面不存在 · xueji</title>" in page
    assert "页面不存在，或所请求的对象不在您的管辖范围内。" in page
    assert 'class="topbar"' in page  # the site's layout
    assert '<a class="btn" href="/login/">前往登录</a>' in page
    assert "Not Found" not in page


@pytest.mark.django_db
def test_404_for_a_signed_in_user_leads_back_to_the_dashboard(client, registrar_a):
    fa.web_login(client, "reg_a")
    page = client.get("/no-such-page/").content.decode()
    assert '<a class="btn" href="/">返回工作台</a>' in page
    assert 'class="sidenav"' in page  # the navigation of the layout


@pytest.mark.django_db
def test_403_page_hides_the_exception_text(failing):
    response = failing.get("/deny/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "无权访问" in page
    assert "您的角色无权访问此页面或执行此操作。" in page
    assert "detail that must not be shown" not in page


@pytest.mark.django_db
def test_400_page_for_a_disallowed_host(client):
    response = client.get("/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "请求无效" in page and "请求无法处理" in page


@pytest.mark.django_db
def test_500_page_is_standalone_and_shows_no_detail(failing, monkeypatch):
    """The 500 page must render even when the layout's context processors are what fails."""

    def broken(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("context processor down")

    monkeypatch.setattr("xueji.dashboard.context_processors.navigation", broken)
    response = failing.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "<title>服务器内部错误 · xueji</title>" in page
    assert "服务器处理请求时出错，已记录。" in page
    assert '<a class="btn" href="/">返回首页</a>' in page
    assert "boom" not in page and "Traceback" not in page


@pytest.mark.django_db
def test_404_falls_back_to_the_standalone_layout_when_the_layout_fails(client, settings):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {"context_processors": ["tests.core.test_error_pages.broken_processor"]},
        }
    ]
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "页面不存在" in page and "返回首页" in page


def broken_processor(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("context processor down")


@pytest.mark.django_db
def test_csrf_failure_page_in_chinese():
    c = Client(enforce_csrf_checks=True)
    response = c.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "页面已过期" in page
    assert "CSRF 校验失败" in page
    assert 'class="topbar"' in page
    assert "CSRF cookie not set" not in page  # the reason goes to the log only


@pytest.mark.django_db
def test_api_keeps_the_one_json_error_shape(client, failing):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "code": "not_found",
        "message": "页面不存在，或所请求的对象不在您的管辖范围内。",
        "fields": {},
    }
    response = failing.get("/api/boom/")
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "code": "server_error",
        "message": errors_views.ERRORS[500][2],
        "fields": {},
    }


def test_api_csrf_failure_is_json(rf):
    response = errors_views.csrf_failure(rf.post("/api/v1/students/"), reason="CSRF token missing.")
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "csrf_failed"
