"""``/m/``: the guardian mobile end (config/urls.py: ``path("m/", include("xueji.guardians.mobile_urls"))``)."""

from django.urls import path

from . import mobile_views as v

app_name = "guardians_m"

urlpatterns = [
    path("", v.home_view, name="home"),
    path("login/", v.login_view, name="login"),
    path("login/code/", v.code_view, name="code"),
    path("login/verify/", v.verify_view, name="verify"),
    path("logout/", v.logout_view, name="logout"),
    path("captcha/", v.captcha_refresh_view, name="captcha_refresh"),
    path("captcha/<uuid:captcha_id>.png", v.captcha_image_view, name="captcha"),
    path("bind/", v.bind_view, name="bind"),
    path("children/<uuid:link_id>/", v.child_view, name="child"),
    path("children/<uuid:link_id>/apply/<str:kind>/", v.request_new_view, name="request_new"),
    path("requests/<uuid:request_id>/", v.request_view, name="request"),
    path("requests/<uuid:request_id>/withdraw/", v.request_withdraw_view, name="request_withdraw"),
    path("privacy/", v.privacy_view, name="privacy"),
    path("manifest.webmanifest", v.manifest_view, name="manifest"),
    path("sw.js", v.service_worker_view, name="sw"),
]
