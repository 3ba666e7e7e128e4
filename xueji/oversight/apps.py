from django.apps import AppConfig


class OversightConfig(AppConfig):
    """监督: violations of the units below made visible to the level above (第5、26条); a top-floor reader."""

    name = "xueji.oversight"
    label = "oversight"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Write the notices of the dropout ledger's escalations (第17条 逐级上报): dropouts sends the signals and
        may not import the notices (``changes``, same floor), oversight is above both."""
        from xueji.dropouts.signals import case_escalated, case_followed_up  # noqa: PLC0415

        from .receivers import on_case_escalated, on_case_followed_up  # noqa: PLC0415

        case_escalated.connect(on_case_escalated, dispatch_uid="oversight.dropout_escalated")
        case_followed_up.connect(on_case_followed_up, dispatch_uid="oversight.dropout_followed_up")
