from django.urls import path

from . import consoles, views

app_name = "dashboard"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # 三权分立 consoles (issue 11 §6): the system administrator's platform page, the audit administrator's export.
    path("console/system/", consoles.system_console, name="system"),
    path("console/audit-export.csv", consoles.audit_export, name="audit_export"),
]
