from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/", views.batch_new, name="new"),
    path("template/", views.template_download, name="template"),
    path("roster/", views.export_roster, name="export_roster"),
    path("roster/export/", views.roster, name="roster"),
    path("roster/exports/<uuid:export_id>/", views.export_detail, name="export_detail"),
    path("roster/exports/<uuid:export_id>/file/", views.export_download, name="export_download"),
    path("<uuid:batch_id>/", views.batch_detail, name="detail"),
    path("<uuid:batch_id>/check/", views.batch_check, name="check"),
    path("<uuid:batch_id>/commit/", views.batch_commit, name="commit"),
    path("<uuid:batch_id>/retry/", views.batch_retry, name="retry"),
    path("<uuid:batch_id>/problems.xlsx", views.problems_download, name="problems"),
    path("<uuid:batch_id>/students.xlsx", views.created_download, name="created"),
]
