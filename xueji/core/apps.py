from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "xueji.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate  # noqa: PLC0415 - the app registry is ready only here

        from . import checks  # noqa: F401, PLC0415 - registers the deploy check of encryption at rest
        from .fieldcrypto import ensure_data_keys  # noqa: PLC0415 - it imports the models

        # Every encrypted column gets its first data key when the schema is created (never inside a request).
        post_migrate.connect(ensure_data_keys, sender=self, dispatch_uid="xueji.core.ensure_data_keys")
