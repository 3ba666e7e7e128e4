from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """工作台: the landing page; the top of the house (it reads from every app, nothing imports it)."""

    name = "xueji.dashboard"
    label = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
