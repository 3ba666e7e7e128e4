from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("", views.index_view, name="index"),
    path("issue/", views.issue_view, name="issue"),
    path("batches/", views.batch_create_view, name="batch_create"),
    path("batches/<uuid:batch_id>/", views.batch_view, name="batch"),
    path("<uuid:certificate_id>/", views.detail_view, name="detail"),
    path("<uuid:certificate_id>/certificate.pdf", views.pdf_view, name="pdf"),
    path("<uuid:certificate_id>/credential.json", views.json_view, name="json"),
    path("<uuid:certificate_id>/revoke/", views.revoke_view, name="revoke"),
]
