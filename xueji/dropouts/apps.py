from django.apps import AppConfig


class DropoutsConfig(AppConfig):
    name = "xueji.dropouts"
    label = "dropouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Close or move open cases when the register changes (第17条; ``receivers.on_records_changed``)."""
        from xueji.core.signals import records_changed  # noqa: PLC0415

        from .receivers import on_records_changed  # noqa: PLC0415 - apps.ready: receivers load models

        records_changed.connect(on_records_changed, dispatch_uid="dropouts.follow_register")
