"""Browser test of the public certificate verification pages (第19条; issue 12 §2) in headless Chromium at
390 px and 1280 px, without logging in: a valid certificate, a revoked one, and a tampered credential pasted
into the check form; a deeply nested paste; the per-address rate limit. The page must fit a phone (no horizontal scrolling) and never show the full name, the ID
number or the 学籍号. Screenshots go to ``var/screenshots/``."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from tests.e2e.conftest import shot
from tests.factories import changes as c
from tests.factories import core as f
from xueji.certificates import services
from xueji.changes.services import change_submit

pytestmark = pytest.mark.e2e


def _result(page: Any) -> str:
    return str(page.get_attribute("[data-testid=verify-result]", "data-result"))


def _fits(page: Any, width: int) -> None:
    scroll = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert scroll <= width, f"horizontal scrolling at {width}px: {scroll}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_public_verification_page(live_server, browser, settings, tmp_path, width):  # type: ignore[no-untyped-def]
    f.departments()
    c.calendar()
    settings.XUEJI_CERT_KEY_DIR = tmp_path / "keys"
    settings.XUEJI_CERT_BASE_URL = live_server.url
    school = f.school("440105", "primary", name="海珠区实验小学")
    registrar = f.registrar(school)
    county = c.dept_registrar("440105")
    services.key_create(province_code="440000")
    issued = []
    for name in ("陈思远", "林晓华"):
        e = c.enrolled(school, grade=6, name=name)
        change_submit(actor=registrar, kind="graduation", enrollment=e, facts={}, today=date(2026, 6, 15))
        issued.append(services.certificate_issue(actor=county, person_id=e.person_id, kind="graduation"))
    good, revoked = issued
    services.certificate_revoke(actor=county, certificate=revoked, reason="信息有误，已补发")

    options: dict[str, Any] = {"viewport": {"width": width, "height": 900}, "locale": "zh-CN"}
    if width < 500:
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    page = context.new_page()
    errors: list[str] = []
    # console errors other than failed loads, and every failed load except the browser's own favicon probe
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None,
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    # valid — reached through the QR code's URL, as a phone camera would
    page.goto(f"{live_server.url}/v/q/{good.qr_token}")
    assert _result(page) == "valid"
    body = page.inner_text("main")
    assert "有效" in body and "陈*远" in body and "陈思远" not in body
    person = good.person
    assert person.id_number not in page.content() and person.student_number not in page.content()
    _fits(page, width)
    shot(page, f"certificate-valid-{width}")

    # revoked
    page.goto(f"{live_server.url}/v/c/{revoked.pk}")
    assert _result(page) == "revoked" and "已撤销" in page.inner_text("main")
    _fits(page, width)
    shot(page, f"certificate-revoked-{width}")

    # tampered: the genuine credential with the school changed, pasted into the public check
    forged = copy.deepcopy(good.credential)
    forged["credentialSubject"]["school"]["name"] = "海珠区第一中学"
    page.goto(f"{live_server.url}/v/")
    page.fill("textarea[name=text]", json.dumps(forged, ensure_ascii=False))
    page.click("[data-testid=verify-form] button")
    page.wait_for_selector("[data-testid=verify-result]")
    assert _result(page) == "bad-signature" and "篡改" in page.inner_text("main")
    _fits(page, width)
    shot(page, f"certificate-tampered-{width}")

    # a document nested thirty thousand levels deep: refused as bad-signature, not a server error
    page.goto(f"{live_server.url}/v/")
    page.fill("textarea[name=text]", "[" * 30_000)
    page.click("[data-testid=verify-form] button")
    page.wait_for_selector("[data-testid=verify-result]")
    assert _result(page) == "bad-signature"
    assert not errors, errors

    # past the per-address limit: the form again, with the refusal (429) and nothing checked
    settings.XUEJI_CERT_VERIFY_RATE_LIMIT = (1, 3600)
    page.goto(f"{live_server.url}/v/c/{good.pk}")
    assert page.is_visible("[data-testid=verify-limited]")
    assert "核验过于频繁" in page.inner_text("main") and not page.query_selector(
        "[data-testid=verify-result]"
    )
    _fits(page, width)
    shot(page, f"certificate-limited-{width}")
    context.close()
