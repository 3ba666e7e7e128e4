"""Shared set-up of the guardian tests: the guardian middleware and URLs (until the lead wires them into
config/), SMS into memory, a known captcha answer, the calendar and a small tree with two schools."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import changes as c
from tests.factories import core as f
from tests.guardians.helpers import CAPTCHA, wire
from xueji.guardians import sms

__all__ = ["CAPTCHA", "login", "sms_code"]


@pytest.fixture(autouse=True)
def _guardian_wiring(settings, monkeypatch):  # type: ignore[no-untyped-def]
    wire(settings)
    settings.XUEJI_SMS_BACKEND = "xueji.guardians.sms.LocmemBackend"
    sms.outbox.clear()
    monkeypatch.setattr("xueji.guardians.captcha.new_answer", lambda: CAPTCHA)
    yield
    sms.outbox.clear()


@pytest.fixture
def g(tree):  # type: ignore[no-untyped-def]
    """Two schools in one county and one elsewhere, a pupil at the first, registrars of each."""
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    other = f.school("440106", "primary", name="天河一小")
    return {
        "school": school,
        "other": other,
        "pupil": c.enrolled(school, grade=3, name="林小雨"),
        "pupil2": c.enrolled(school, grade=4, name="陈大海"),
        "reg": f.registrar(school),
        "reg_other": f.registrar(other),
    }


def sms_code(phone: str) -> str:
    """The six-digit code in the last message sent to ``phone`` (the test SMS backend)."""
    import re

    for message in reversed(sms.outbox):
        if message.to == phone:
            match = re.search(r"(\d{6})", message.body)
            assert match, message.body
            return match.group(1)
    raise AssertionError(f"no SMS to {phone}")


def login(client: Any, capture: Any, phone: str = "13912345678", ip: str = "10.1.1.1") -> Any:
    """Sign a guardian in through the pages (captcha, SMS code; ``capture`` is pytest-django's
    ``django_capture_on_commit_callbacks``, which sends the SMS); returns the verify response."""
    from xueji.guardians.models import Captcha

    client.get("/m/login/", REMOTE_ADDR=ip)
    captcha = Captcha.objects.order_by("-created_at").first()
    with capture(execute=True):
        response = client.post(
            "/m/login/code/",
            {"phone": phone, "captcha_id": str(captcha.pk), "captcha": CAPTCHA},
            REMOTE_ADDR=ip,
        )
    assert response.status_code == 200, response.content.decode()[:500]
    return client.post("/m/login/verify/", {"phone": phone, "code": sms_code(phone)}, REMOTE_ADDR=ip)
