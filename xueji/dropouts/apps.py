from django.apps import AppConfig


class DropoutsConfig(AppConfig):
    name = "xueji.dropouts"
    label = "dropouts"
    default_auto_field = "django.db.models.BigAutoField"
