"""The one setup of the browser tests (every test that drives a browser lives under tests/e2e/): Debian's
Chromium (/usr/bin/chromium, installed by scripts/ensure-chromium.sh) driven by Playwright's sync API against
pytest-django's ``live_server``; screenshots go to ``var/screenshots/``.

Without Chromium the tests here are reported as skipped with the reason (never dropped from the run unseen);
under CI (``CI`` set) a missing Chromium fails the run instead, so a green CI always ran them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from one unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
# No network at run time: without these flags Chromium keeps trying to reach its update and sync hosts.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
HERE = Path(__file__).parent


def shot(page: Any, name: str) -> None:
    """A full-page screenshot ``var/screenshots/<name>.png`` (for a person to look at; asserts nothing)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if HERE in item.path.parents]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    if not ours or Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            f"{CHROMIUM} is missing and CI is set: the browser tests must run (scripts/ensure-chromium.sh)"
        )
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (scripts/ensure-chromium.sh)")
    for item in ours:
        item.add_marker(skip)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium; each test opens its own contexts (viewport, locale, cookies) on it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Uploads of a browser test go to a temporary MEDIA_ROOT, not the working tree."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
