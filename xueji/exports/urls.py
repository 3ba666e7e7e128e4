from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("new/", views.export_new, name="new"),
    path("approvals/", views.approvals, name="approvals"),
    path("<uuid:export_id>/", views.export_detail, name="detail"),
    path("<uuid:export_id>/submit/", views.export_submit, name="submit"),
    path("<uuid:export_id>/approve/", views.export_approve, name="approve"),
    path("<uuid:export_id>/reject/", views.export_reject, name="reject"),
    path("<uuid:export_id>/file/", views.export_download, name="download"),
]
