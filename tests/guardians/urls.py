"""URLconf of the guardian tests: the site's URLs, plus ``/m/`` and ``/guardian-requests/`` until
config/urls.py mounts them (the lead integrates it); once mounted there, the site's own URLs are used unchanged."""

from __future__ import annotations

from typing import Any

from django.urls import include, path

from config import urls as site


def _mounted() -> bool:
    return any(getattr(p, "namespace", None) == "guardians_m" for p in site.urlpatterns)


urlpatterns: list[Any] = list(site.urlpatterns)
if not _mounted():
    urlpatterns[:0] = [
        path("m/", include("xueji.guardians.mobile_urls")),
        path("guardian-requests/", include("xueji.guardians.urls")),
    ]

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
