"""client_ip behind the documented nginx proxy (deploy/nginx/xueji.conf: X-Real-IP $remote_addr): the client's
own address from a trusted proxy only, so that per-address limits are per client (ASVS 15.4.3), and a header
sent by anyone else is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from xueji.core.middleware import client_ip

rf = RequestFactory()


def ip(**meta: Any) -> str | None:
    return client_ip(rf.get("/m/login/", **meta))


def test_behind_the_local_proxy_each_client_has_its_own_address() -> None:
    """The fault: every client behind nginx was 127.0.0.1, so every per-address limit was one global limit."""
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.7") == "203.0.113.7"
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.8") == "203.0.113.8"
    assert ip(REMOTE_ADDR="::1", HTTP_X_REAL_IP="2001:db8::5") == "2001:db8::5"


def test_forwarded_for_is_read_from_the_right_skipping_trusted_proxies() -> None:
    """The client may write anything at the left of X-Forwarded-For; only the entry the proxy appended counts."""
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.9, 127.0.0.1"}
    assert ip(**meta) == "198.51.100.9"
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="garbage, 198.51.100.9") == "198.51.100.9"


def test_a_header_from_a_peer_that_is_not_a_proxy_is_ignored() -> None:
    """A client connecting directly cannot choose its address (and so cannot leave its rate window)."""
    assert ip(REMOTE_ADDR="198.51.100.20", HTTP_X_REAL_IP="10.0.0.1") == "198.51.100.20"
    assert ip(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="10.0.0.1") == "198.51.100.20"


def test_an_unparsable_header_falls_back_to_the_peer() -> None:
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="not-an-ip") == "127.0.0.1"
    assert ip(REMOTE_ADDR="127.0.0.1") == "127.0.0.1"
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, ::1") == "127.0.0.1"


def test_the_trusted_proxies_come_from_the_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.XUEJI_TRUSTED_PROXIES = ["10.9.0.2"]
    assert ip(REMOTE_ADDR="10.9.0.2", HTTP_X_REAL_IP="203.0.113.7") == "203.0.113.7"
    assert ip(REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.7") == "127.0.0.1"


@pytest.mark.django_db
def test_the_guardian_captcha_limit_is_per_client_through_the_proxy(client, settings) -> None:  # type: ignore[no-untyped-def]
    """End to end through a simulated nginx: one client exhausting the captcha limit leaves the others
    their own window, and a spoofed header from outside the proxy does not open a new one."""
    from tests.guardians.helpers import wire

    wire(settings)
    settings.XUEJI_GUARDIAN_RATE_LIMITS = {"captcha_ip": (2, 3600)}
    via_proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(2):
        assert client.get("/m/captcha/", HTTP_X_REAL_IP="203.0.113.7", **via_proxy).status_code == 200
    assert client.get("/m/captcha/", HTTP_X_REAL_IP="203.0.113.7", **via_proxy).status_code == 429
    assert client.get("/m/captcha/", HTTP_X_REAL_IP="203.0.113.8", **via_proxy).status_code == 200
    direct = {"REMOTE_ADDR": "198.51.100.20"}
    for _ in range(2):
        assert client.get("/m/captcha/", **direct).status_code == 200
    assert client.get("/m/captcha/", HTTP_X_REAL_IP="203.0.113.99", **direct).status_code == 429
