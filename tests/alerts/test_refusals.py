"""The alert services refuse bad input with an error naming the field and change nothing (第23条 console)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.alerts import services
from xueji.alerts.enums import RuleKey
from xueji.alerts.models import AlertRule
from xueji.core.errors import FieldError, NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def security(tree: Any) -> Any:
    return f.user(Role.SECURITY_ADMIN, f.dept("440000"))


def test_unknown_alert_is_not_found(security: Any) -> None:
    for alert_id in ("abc", 999_999):
        with pytest.raises(NotFound):
            services.handle(actor=security, alert_id=alert_id, state="acknowledged")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threshold": 0}, "threshold"),
        ({"window_seconds": -1}, "window_seconds"),
        ({"window_seconds": 31 * 86400}, "window_seconds"),
        ({"severity": "loud"}, "severity"),
    ],
)
def test_rule_update_names_the_bad_field_and_keeps_the_rule(security: Any, change: dict, field: str) -> None:
    rule = AlertRule.objects.get(key=RuleKey.REVEAL_BURST, province_code="")
    values = {
        "threshold": 5,
        "window_seconds": 60,
        "enabled": True,
        "severity": "warning",
        "notify_upper": False,
    }
    with pytest.raises(FieldError) as err:
        services.rule_update(actor=security, rule_id=rule.pk, **{**values, **change})
    assert err.value.field == field
    rule.refresh_from_db()
    assert rule.threshold == 30


def test_rule_update_of_an_unknown_rule_is_not_found(security: Any) -> None:
    values = {
        "threshold": 5,
        "window_seconds": 60,
        "enabled": True,
        "severity": "warning",
        "notify_upper": False,
    }
    for rule_id in ("x", 999_999):
        with pytest.raises(NotFound):
            services.rule_update(actor=security, rule_id=rule_id, **values)
