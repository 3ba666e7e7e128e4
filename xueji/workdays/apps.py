from django.apps import AppConfig


class WorkdaysConfig(AppConfig):
    name = "xueji.workdays"
    label = "workdays"
    default_auto_field = "django.db.models.BigAutoField"
