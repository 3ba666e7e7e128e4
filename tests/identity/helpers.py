"""A guardian's world for the identity tests: a pupil in grade 5 bound to a guardian account, guardians'
relying parties, a browser signed in to the 家长端, and the check that a text carries no identifier."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tests.factories import changes as c
from tests.factories import core as f
from tests.guardians.helpers import CAPTCHA
from xueji.accounts.enums import Role
from xueji.guardians import conf, phones, sms
from xueji.guardians import services as guardian_services
from xueji.guardians.models import GuardianAccount
from xueji.identity import services

PHONE = "13912345678"
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
STUDENT_NUMBER = re.compile(r"[GJLgjl]\d{17}[\dXx]")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def family(monkeypatch: Any, settings: Any) -> dict[str, Any]:
    """A school with a pupil in grade 5 bound to a guardian account, a registrar, the security admin."""
    settings.XUEJI_SMS_BACKEND = "xueji.guardians.sms.LocmemBackend"
    sms.outbox.clear()
    monkeypatch.setattr("xueji.guardians.captcha.new_answer", lambda: CAPTCHA)
    c.calendar()
    school = f.school("440105", "primary", name="海珠一小")
    other = f.school("440106", "primary", name="天河一小")
    pupil = c.enrolled(school, grade=5, name="林小雨")
    registrar = f.registrar(school, display_name="王老师")
    account = GuardianAccount()
    phones.store(account, PHONE)
    account.save()
    issued = guardian_services.binding_code_issue(actor=registrar, enrollment=pupil, slot=1)
    link = guardian_services.link_bind(
        account=account,
        code=issued.code,
        child_name="林小雨",
        relation="2",
        guardian_name="林妈妈",
        consent=True,
        ip="1.1.1.1",
    )
    security = f.user(Role.SECURITY_ADMIN, f.dept("440000"))
    return {
        "school": school,
        "other": other,
        "pupil": pupil,
        "registrar": registrar,
        "account": account,
        "link": link,
        "security": security,
    }


def guardian_rp(fam: dict[str, Any], host: str, scopes: list[str]) -> tuple[str, str, str]:
    done = services.register(
        actor=fam["security"],
        name=f"家长服务 {host}",
        redirect_uris=f"https://{host}/cb",
        scopes=scopes,
        audience="guardian",
    )
    return done.party.application.client_id, done.client_secret, f"https://{host}/cb"


def guardian_browser(account: GuardianAccount) -> Client:
    browser = Client()
    browser.cookies[conf.cookie_name()] = guardian_services.session_start(account=account)
    return browser


def no_identifiers(text: str, fam: dict[str, Any]) -> None:
    person = fam["pupil"].person
    assert not ID_NUMBER.search(text), "an ID number"
    assert not STUDENT_NUMBER.search(text), "a 学籍号"
    assert not MOBILE.search(text), "a phone number"
    for secret in (person.student_number, person.id_number, PHONE, str(person.birth_date)):
        if secret:
            assert secret not in text
