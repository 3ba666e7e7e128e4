from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("", views.console, name="console"),
    path("<int:alert_id>/", views.detail, name="detail"),
    path("rules/", views.rules, name="rules"),
    path("rules/<int:rule_id>/", views.rule_update, name="rule_update"),
]
