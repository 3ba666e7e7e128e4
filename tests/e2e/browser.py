"""Shared settings of the browser tests: Debian's Chromium driven by Playwright, screenshots under var/."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

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


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
