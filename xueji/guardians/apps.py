from django.apps import AppConfig


class GuardiansConfig(AppConfig):
    """家长端 (第5、13、15、16条): guardian accounts, SMS login, binding to a child, guardian requests."""

    name = "xueji.guardians"
    label = "guardians"
    default_auto_field = "django.db.models.BigAutoField"
