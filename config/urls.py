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
    path("dropouts/", include("xueji.dropouts.urls")),
    path("checks/", include("xueji.checks.urls")),
    path("verification/", include("xueji.verification.urls")),
    path("print/", include("xueji.documents.urls")),
    path("oversight/", include("xueji.oversight.urls")),
    path("statistics/", include("xueji.statistics.urls")),
    # 可信教育数字身份 (第24条): the OpenID Connect provider and the security admin's relying-party pages.
    path("o/", include("xueji.identity.provider_urls", namespace="oauth2_provider")),
    path("identity/", include("xueji.identity.urls")),
    path("alerts/", include("xueji.alerts.urls")),
    path("exports/", include("xueji.exports.urls")),
    # 家长端 (第5、13、15、16条): the guardian mobile end and the schools' worklist of guardian requests.
    path("m/", include("xueji.guardians.mobile_urls")),
    path("guardian-requests/", include("xueji.guardians.urls")),
    # 电子学籍证明 (第19条): issuing and revoking (staff) and the public verification pages (no login).
    path("certificates/", include("xueji.certificates.urls")),
    path("v/", include("xueji.certificates.public_urls")),
    path("", include("xueji.dashboard.urls")),
]
# Static files: WhiteNoise (production and `make run`) or runserver's staticfiles handler (`make dev`).

# Chinese error pages in the layout; the one JSON error shape under /api/ (xueji/core/errors_views.py).
handler400 = "xueji.core.errors_views.bad_request"
handler403 = "xueji.core.errors_views.permission_denied"
handler404 = "xueji.core.errors_views.page_not_found"
handler500 = "xueji.core.errors_views.server_error"
