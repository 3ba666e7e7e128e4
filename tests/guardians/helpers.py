"""Wiring shared by the guardian tests and the guardian browser test (tests/e2e/test_guardians_browser.py)."""

from __future__ import annotations

from typing import Any

GUARDIAN_MIDDLEWARE = "xueji.guardians.middleware.GuardianSessionMiddleware"
#: The captcha answer the tests make every new captcha have (``xueji.guardians.captcha.new_answer`` patched).
CAPTCHA = "ABCDE"


def wire(settings: Any) -> None:
    """The guardian middleware after AccountPolicyMiddleware and the guardian URLs, until config/ has them."""
    if GUARDIAN_MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        at = middleware.index("xueji.accounts.middleware.AccountPolicyMiddleware") + 1
        middleware.insert(at, GUARDIAN_MIDDLEWARE)
        settings.MIDDLEWARE = middleware
    settings.ROOT_URLCONF = "tests.guardians.urls"
