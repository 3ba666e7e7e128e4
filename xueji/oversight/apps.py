from django.apps import AppConfig


class OversightConfig(AppConfig):
    """监督: violations of the units below made visible to the level above (第5、26条); a top-floor reader."""

    name = "xueji.oversight"
    label = "oversight"
    default_auto_field = "django.db.models.BigAutoField"
