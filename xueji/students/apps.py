from django.apps import AppConfig


class StudentsConfig(AppConfig):
    name = "xueji.students"
    label = "students"
    default_auto_field = "django.db.models.BigAutoField"
