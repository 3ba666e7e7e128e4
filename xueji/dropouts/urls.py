from django.urls import path

from . import views

app_name = "dropouts"

urlpatterns = [
    path("", views.ledger_view, name="ledger"),
    path("export.xlsx", views.export_view, name="export"),
    path("new/<uuid:person_id>/", views.open_view, name="open"),
    path("leads/new/", views.lead_view, name="lead"),
    path("leads/import/", views.leads_import_view, name="leads_import"),
    path("leads/template.xlsx", views.leads_template_view, name="leads_template"),
    path("<uuid:case_id>/", views.case_view, name="case"),
    path("<uuid:case_id>/follow-up/", views.follow_up_view, name="follow_up"),
    path("<uuid:case_id>/close/", views.close_view, name="close"),
]
