"""security.md acceptance test 29 (等保 8.1.4.3; ASVS 16.2.5): what the application logs — every logger, at
every level, while the flows that handle secrets and identifiers run (failed and successful logins, a second
factor enrolled and mistyped, a record read and its ID number revealed, a search by ID number and by phone, a
refused request carrying them) — holds no password, OTP secret, session id, ID number, 学籍号 or phone.

Only what the product itself logs is captured (the test client's requests go through the real middleware,
views and logging configuration); audit records are covered by tests/audit/test_no_personal_data.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import changes as c
from tests.factories import core as f
from tests.factories import students as sf
from xueji.students.models import Person

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {text} {record.__dict__.get('request', '')}")


@pytest.fixture
def logs() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


def test_logs_hold_no_secret_or_identifier(
    logs: _Capture, school_a: Any, registrar_a: Any, settings: Any
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    pupil = Person.objects.get(pk=sf.student(school_a, registrar_a, name="林小雨").person_id)
    county = c.dept_registrar("440105")
    secrets: dict[str, str] = {"password": f.PASSWORD, "id_number": pupil.id_number, "phone": pupil.phone}
    secrets["student_number"] = pupil.student_number

    client = Client()
    client.post("/login/", {"username": registrar_a.username, "password": "Wrong-" + f.PASSWORD})
    client.post("/login/", {"username": "nobody-" + pupil.id_number, "password": f.PASSWORD})
    assert (
        client.post("/login/", {"username": registrar_a.username, "password": f.PASSWORD}).status_code == 302
    )
    secrets["session"] = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.get(f"/students/{pupil.pk}/")
    client.post(f"/students/{pupil.pk}/reveal/id_number/")
    client.post(f"/students/{pupil.pk}/reveal/phone/")
    client.get("/students/", {"q": pupil.id_number})
    client.get("/students/", {"q": pupil.phone})
    client.get("/students/", {"q": pupil.student_number})
    client.get(f"/students/{pupil.pk}/reveal/not-a-field/")
    client.post("/api/v1/students/", data={"id_number": pupil.id_number, "phone": pupil.phone})
    client.get(f"/api/v1/students/?q={pupil.id_number}")

    officer = Client()
    assert officer.post("/login/", {"username": county.username, "password": f.PASSWORD}).status_code == 302
    officer.get("/mfa/setup/")
    device = TOTPDevice.objects.get(user=county, confirmed=False)
    secrets["otp_secret"] = device.key
    officer.post("/mfa/setup/", {"token": "000000"})
    officer.post("/mfa/verify/", {"token": "123456"})

    assert logs.lines, "nothing was logged: the capture is not wired"
    text = "\n".join(logs.lines)
    leaked = {name: value for name, value in secrets.items() if value and value in text}
    assert not leaked, f"in the logs: {sorted(leaked)}"
