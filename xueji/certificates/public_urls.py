"""Public verification URLs (mounted at ``v/``; no login)."""

from django.urls import path

from . import public_views

app_name = "verify"

urlpatterns = [
    path("", public_views.verify_page, name="check"),
    path("c/<uuid:certificate_id>", public_views.certificate_page, name="certificate"),
    path("q/<str:token>", public_views.qr_page, name="qr"),
    path("status/<str:province_code>/<int:number>", public_views.status_list_view, name="status_list"),
    path("issuers/keys.json", public_views.key_set_view, name="key_set"),
    path("issuers/<str:province_code>", public_views.issuer_view, name="issuer"),
]
