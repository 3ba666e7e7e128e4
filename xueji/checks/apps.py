from django.apps import AppConfig


class ChecksConfig(AppConfig):
    """问题学籍 checks (第9、25条): detection rules that open problem records, and the problem-record worklists."""

    name = "xueji.checks"
    label = "checks"
    default_auto_field = "django.db.models.BigAutoField"
