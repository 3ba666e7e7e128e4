from django.conf import settings
from django.conf.urls.static import static
from django.urls import URLPattern, URLResolver, include, path

from .api import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("xueji.accounts.urls")),
    path("orgs/", include("xueji.regions.urls")),
    path("schools/", include("xueji.schools.urls")),
    path("students/", include("xueji.students.urls")),
    path("imports/", include("xueji.imports.urls")),
    path("policies/", include("xueji.policies.urls")),
    path("audit/", include("xueji.audit.urls")),
    path("changes/", include("xueji.changes.urls")),
    path("", include("xueji.core.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.STATIC_URL, document_root=settings.BASE_DIR / "static")
