"""Static files (issue #6 §1): hashed names from the `collectstatic` manifest, served by WhiteNoise with
far-future caching and the same lock-down headers as pages."""

from __future__ import annotations

import json
import re

import pytest

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_production_storage_is_the_compressed_manifest():
    from config import settings as config

    assert (
        config.STORAGES["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert config.MIDDLEWARE[:2] == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]


def test_collectstatic_writes_hashed_and_compressed_copies(collected_static):
    paths = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    hashed = paths["css/app.css"]
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", hashed)
    assert (collected_static / hashed).exists()
    assert (collected_static / f"{hashed}.gz").exists()
    assert re.fullmatch(r"vendor/htmx\.min\.[0-9a-f]{12}\.js", paths["vendor/htmx.min.js"])


@pytest.fixture
def manifest_serving(settings, collected_static):  # type: ignore[no-untyped-def]
    settings.STATIC_ROOT = collected_static
    settings.STORAGES = MANIFEST_STORAGES
    settings.WHITENOISE_AUTOREFRESH = False
    settings.WHITENOISE_USE_FINDERS = False
    return json.loads((collected_static / "staticfiles.json").read_text())["paths"]


@pytest.mark.django_db
def test_pages_link_hashed_names_served_with_far_future_caching(client, manifest_serving):
    page = client.get("/login/").content.decode()
    css = f"/static/{manifest_serving['css/app.css']}"
    assert f'href="{css}"' in page
    assert f'src="/static/{manifest_serving["js/app.js"]}"' in page

    response = client.get(css)
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Content-Type"].startswith("text/css")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    )
    response.close()


@pytest.mark.django_db
def test_unhashed_name_is_not_cached_for_long(client, manifest_serving):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]
    response.close()
