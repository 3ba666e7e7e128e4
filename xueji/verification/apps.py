from django.apps import AppConfig


class VerificationConfig(AppConfig):
    """学籍核查 (第25条): semester verification rounds, the schools' roster confirmations and the counties' review."""

    name = "xueji.verification"
    label = "verification"
    default_auto_field = "django.db.models.BigAutoField"
