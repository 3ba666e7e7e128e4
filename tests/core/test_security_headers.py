"""Security headers on every response (issue #6 §1): a CSP without inline script (django-csp), framing
refused, no MIME sniffing, a referrer policy; templates carry no inline script, handler or style."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from tests.factories import accounts as fa

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _policy(header: str) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in header.split(";"))
    }


def _assert_headers(response) -> None:  # type: ignore[no-untyped-def]
    assert _policy(response["Content-Security-Policy"]) == _policy(CSP)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"),
    [("/login/", 200), ("/no-such-page/", 404), ("/api/v1/auth/me", 401), ("/api/v1/orgs/", 401)],
)
def test_headers_on_pages_errors_and_api(client, url, status):
    response = client.get(url)
    assert response.status_code == status  # a renamed page must not pass as "an error page with headers"
    _assert_headers(response)


@pytest.mark.django_db
def test_headers_on_signed_in_pages(client, registrar_a):
    fa.web_login(client, "reg_a")
    response = client.get("/")
    assert response.status_code == 200
    _assert_headers(response)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_static_files_carry_the_lockdown_headers(client):
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    response.close()


@pytest.mark.django_db
def test_swagger_ui_gets_only_data_images_on_top(client):
    """ninja's Swagger page loads its scripts from files (its settings are a JSON data block)."""
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    policy = _policy(response["Content-Security-Policy"])
    assert policy == {**_policy(CSP), "img-src": "'self' data:"}
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)


def _templates() -> list[tuple[str, str]]:
    roots = [settings.BASE_DIR / "templates", *(settings.BASE_DIR / "xueji").glob("*/templates")]
    return [(str(p), p.read_text()) for root in roots for p in sorted(root.rglob("*.html"))]


def test_no_inline_script_handler_or_style_in_templates():
    """The CSP has no 'unsafe-inline': an inline <script>, onclick=… or hx-on would silently not run."""
    offenders = []
    for name, text in _templates():
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1):
                offenders.append((name, match.group(0)))
        offenders += [(name, m) for m in re.findall(r"\son[a-z]+\s*=", text)]
        offenders += [(name, m) for m in re.findall(r"hx-on[:-]?[a-z:-]*\s*=", text)]
        offenders += [(name, m) for m in re.findall(r"\sstyle\s*=", text)]
        offenders += [(name, m) for m in re.findall(r"<style\b", text)]
        offenders += [(name, m) for m in re.findall(r"javascript:", text)]
    assert offenders == []


def test_htmx_neither_evals_nor_injects_styles():
    base = (settings.BASE_DIR / "templates" / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base)
    assert config is not None
    import json

    assert json.loads(config.group(1)) == {
        "historyCacheSize": 0,
        "refreshOnHistoryMiss": True,
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }
    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator, .htmx-request.htmx-indicator { opacity: 1;" in css


def test_template_comments_are_single_line():
    """`{# … #}` spans one line only: a multi-line one is rendered as text (it once put a literal
    <style> into <head> and swallowed the page's scripts)."""
    for name, text in _templates():
        for line in text.splitlines():
            assert line.count("{#") == line.count("#}"), (name, line)
