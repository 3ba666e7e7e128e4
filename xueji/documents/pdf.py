"""HTML → PDF with WeasyPrint, offline: the page's own template, our static files, the system's fonts.

- No network, ever: WeasyPrint fetches a document's stylesheets and images through :class:`StaticFilesOnly`,
  which answers only for our own static files (found like ``{% static %}`` names them, hashed or plain) and
  refuses every other URL — ``http(s)``, ``file:``, ``data:``, other hosts, paths outside the static tree.
- Fonts come from fontconfig (Pango): ``static/css/print.css`` names "Noto Serif CJK SC" / "Noto Sans CJK SC"
  first and ends on a generic family, so a rare character (CJK Ext B–G, e.g. 𠀀 U+20000) falls back to any
  installed font that holds it; with none installed it is drawn as the font's missing-glyph box, never an
  error. CI installs fonts-noto-cjk (scripts/ensure-chromium.sh).
- CPU work: a document is one record (the views never batch), rendered synchronously in the request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import SuspiciousFileOperation
from weasyprint import HTML, Document
from weasyprint.urls import URLFetcher, URLFetcherResponse

#: The documents' base URL. Never resolved: only :class:`StaticFilesOnly` answers, and only under STATIC_URL.
BASE_URL = "https://xueji.invalid/"

#: What a document may load: stylesheets and images (fonts come from the system, not from URLs).
SERVED_TYPES = frozenset({"text/css", "image/png", "image/jpeg", "image/svg+xml"})


class ResourceRefused(ValueError):
    """A URL that is not one of our static files (WeasyPrint logs it and renders without the resource)."""


def static_name(url: str) -> str | None:
    """The static file name a document URL points at (``css/print.css``), or ``None`` for any other URL."""
    prefix = urljoin(BASE_URL, settings.STATIC_URL)
    if not url.startswith(prefix):
        return None
    name = unquote(urlsplit(url).path)[len(urlsplit(prefix).path) :]
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in {"", ".", ".."} for p in parts):
        return None
    return name


def static_path(name: str) -> Path | None:
    """The file behind a static name: the collected (hashed) copy in production, else the app's source file."""
    try:
        if staticfiles_storage.exists(name):
            return Path(staticfiles_storage.path(name))
    except (NotImplementedError, SuspiciousFileOperation):
        pass
    try:
        found = finders.find(name)
    except SuspiciousFileOperation:
        return None
    return Path(found) if isinstance(found, str) else None


class StaticFilesOnly(URLFetcher):
    """WeasyPrint's URL fetcher for our documents: serves our static files, refuses everything else."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        name = static_name(url)
        path = static_path(name) if name is not None else None
        content_type = mimetypes.guess_type(name or "")[0]
        if path is None or content_type not in SERVED_TYPES:
            raise ResourceRefused(f"not one of our static files: {url[:200]}")
        if content_type == "text/css":
            content_type += "; charset=utf-8"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})


def pdf_document(html: str) -> Document:
    """Lay out ``html`` (A4 from the stylesheet's ``@page``) — the pages before they are written."""
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesOnly()).render()


def pdf_bytes(html: str) -> bytes:
    """The PDF of ``html``."""
    data = pdf_document(html).write_pdf()
    assert isinstance(data, bytes)
    return data
