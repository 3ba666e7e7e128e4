from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """预警 (第23条): rules over the audit stream raise alerts for the security administrator."""

    name = "xueji.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401, PLC0415 - registers the deploy checks of the separation of duties
