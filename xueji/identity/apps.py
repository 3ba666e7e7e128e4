from django.apps import AppConfig


class IdentityConfig(AppConfig):
    """学生可信教育数字身份 (第24条): an OpenID Connect provider for other education systems, with pairwise
    subjects and claims limited to what the registered scopes allow (never an ID number)."""

    name = "xueji.identity"
    label = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401, PLC0415 - apps.ready: connects the audit of issued tokens
