from django.apps import AppConfig

from xueji.core import appendonly

from . import triggers


class AuditConfig(AppConfig):
    name = "xueji.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Plug the audit into core, which imports no app (issue #9 §3): declare the append-only tables
        (等保 8.1.4.3; 第23条) and record the refusals of the rate limiter (``security.rate_limited``)."""
        from xueji.core.ratelimit import rate_limited  # noqa: PLC0415 - apps.ready: core.ratelimit loads core.models after the registry

        from .receivers import record_rate_limited  # noqa: PLC0415 - apps.ready: receivers load audit models after the registry

        appendonly.register(
            self.label, tables=triggers.TABLES, create_triggers=triggers.create, trail=triggers.EVENTS
        )
        rate_limited.connect(record_rate_limited, dispatch_uid="audit.record_rate_limited")
