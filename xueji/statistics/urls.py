from django.urls import path

from . import views

app_name = "statistics"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("export.xlsx", views.export, name="export"),
    path("flows.xlsx", views.export_flows, name="export_flows"),
]
