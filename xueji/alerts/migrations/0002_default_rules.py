"""The national default early-warning rules (xueji/alerts/defaults.py)."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from xueji.alerts.defaults import DEFAULT_RULES  # noqa: PLC0415

    AlertRule = apps.get_model("alerts", "AlertRule")
    for row in DEFAULT_RULES:
        if not AlertRule.objects.filter(key=row["key"], province_code="").exists():
            AlertRule.objects.create(**row)


def unload(apps: Any, schema_editor: Any) -> None:
    apps.get_model("alerts", "AlertRule").objects.filter(province_code="").delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
