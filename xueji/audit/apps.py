from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "xueji.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Plug the audit into core, which imports no app (issue #9 §3): declare the append-only tables
        (等保 8.1.4.3; 第23条) and record the refusals of the rate limiter (``security.rate_limited``)."""
        from xueji.core import appendonly
        from xueji.core.ratelimit import rate_limited

        from . import triggers
        from .receivers import record_rate_limited

        appendonly.register(
            self.label, tables=triggers.TABLES, create_triggers=triggers.create, trail=triggers.EVENTS
        )
        rate_limited.connect(record_rate_limited, dispatch_uid="audit.record_rate_limited")
