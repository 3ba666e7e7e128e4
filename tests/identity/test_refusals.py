"""Registering relying parties refuses bad input naming the field; disabling is idempotent (第24条)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.core.errors import FieldError, NotFound
from xueji.identity import services
from xueji.identity.models import RelyingParty

pytestmark = pytest.mark.django_db


@pytest.fixture
def security(tree: Any) -> Any:
    return f.user(Role.SECURITY_ADMIN, f.dept("440000"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "  ", "redirect_uris": "https://a.example/cb", "scopes": []}, "name"),
        ({"name": "甲", "redirect_uris": "  ", "scopes": []}, "redirect_uris"),
        ({"name": "甲", "redirect_uris": "https://a.example/cb#x", "scopes": []}, "redirect_uris"),
        ({"name": "甲", "redirect_uris": "https://a.example/cb", "scopes": ["xueji.everything"]}, "scopes"),
        # 第24条: a scope only for its audience; a child's name only with its enrollment
        ({"name": "甲", "redirect_uris": "https://a.example/cb", "scopes": ["xueji.enrollment"]}, "scopes"),
        ({"name": "甲", "redirect_uris": "https://a.example/cb", "scopes": ["xueji.verify"]}, "scopes"),
        (
            {
                "name": "甲",
                "redirect_uris": "https://a.example/cb",
                "scopes": ["xueji.role"],
                "audience": "guardian",
            },
            "scopes",
        ),
        (
            {
                "name": "甲",
                "redirect_uris": "https://a.example/cb",
                "scopes": ["profile"],
                "audience": "guardian",
            },
            "scopes",
        ),
        (
            {
                "name": "甲",
                "redirect_uris": "https://a.example/cb",
                "scopes": ["xueji.pupil_name"],
                "audience": "guardian",
            },
            "scopes",
        ),
        (
            {"name": "甲", "redirect_uris": "https://a.example/cb", "scopes": [], "audience": "pupil"},
            "audience",
        ),
    ],
)
def test_register_names_the_bad_field(security: Any, kwargs: dict, field: str) -> None:
    with pytest.raises(FieldError) as err:
        services.register(actor=security, **kwargs)
    assert err.value.field == field
    assert not RelyingParty.objects.exists()


def test_public_client_has_no_secret_and_disable_twice_is_harmless(security: Any) -> None:
    done = services.register(
        actor=security,
        name="家校通",
        redirect_uris="https://app.example/cb",
        scopes=["profile"],
        confidential=False,
    )
    assert done.client_secret == ""
    services.disable(actor=security, party_id=done.party.pk)
    first = RelyingParty.objects.get().disabled_at
    services.disable(actor=security, party_id=done.party.pk)
    assert RelyingParty.objects.get().disabled_at == first
    with pytest.raises(NotFound):
        services.disable(actor=security, party_id=999_999)


def test_register_without_a_signing_key_is_refused_clearly(security: Any, settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": ""}
    with pytest.raises(FieldError) as err:
        services.register(actor=security, name="甲", redirect_uris="https://a.example/cb", scopes=[])
    assert err.value.field == "algorithm"
    assert "oidc_key" in err.value.message
    assert not RelyingParty.objects.exists()


def test_register_a_guardians_system_and_its_form(security: Any, client: Any) -> None:
    done = services.register(
        actor=security,
        name="资助系统",
        redirect_uris="https://aid.example/cb",
        scopes=["xueji.enrollment", "xueji.pupil_name", "xueji.verify"],
        audience="guardian",
    )
    assert done.party.audience == "guardian"
    assert done.party.scopes == ["xueji.enrollment", "xueji.pupil_name", "xueji.verify"]
    client.force_login(security)
    page = client.post(
        "/identity/clients/new/",
        {
            "name": "家长图书",
            "redirect_uris": "https://lib.example/cb",
            "audience": "guardian",
            "scopes": ["xueji.role"],
        },
    )
    assert page.status_code == 200 and "不适用于使用者" in page.content.decode()
    assert RelyingParty.objects.count() == 1
    listing = client.get("/identity/clients/")
    assert "资助系统" in listing.content.decode() and "家长" in listing.content.decode()


def test_the_settings_offer_every_scope_of_the_catalog() -> None:
    """config/settings.py OAUTH2_PROVIDER["SCOPES"] holds the catalog (the consent page and discovery read it;
    the identity tests supply it themselves, so this checks the real settings module)."""
    import config.settings as site
    from xueji.identity.scopes import SCOPES

    assert set(SCOPES) <= set(site.OAUTH2_PROVIDER["SCOPES"])
