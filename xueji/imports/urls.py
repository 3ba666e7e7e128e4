from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/", views.batch_new, name="new"),
    path("template/", views.template_download, name="template"),
    path("roster/", views.export_roster, name="export_roster"),
    path("<uuid:batch_id>/", views.batch_detail, name="detail"),
    path("<uuid:batch_id>/check/", views.batch_check, name="check"),
    path("<uuid:batch_id>/commit/", views.batch_commit, name="commit"),
    path("<uuid:batch_id>/retry/", views.batch_retry, name="retry"),
]
