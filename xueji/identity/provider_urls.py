"""The OpenID Connect provider's endpoints (django-oauth-toolkit), mounted under /o/. Only what a relying party
needs: authorize (with our consent page; ``authorize/continue/`` resumes a guardian's request after the 家长端
login), token, revoke, discovery, JWKS and userinfo. Not mounted: the toolkit's
application-management pages (any signed-in user could register a client there — here only the security
administrator registers relying parties, xueji/identity/views.py), dynamic client registration, introspection and
the device flow."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from oauth2_provider import urls as dot

from .views_provider import ConsentView, UserInfo, authorize_continue

_BASE = {"token", "revoke-token"}
_OIDC = {"oidc-connect-discovery-info", "jwks-info"}

app_name = "oauth2_provider"
urlpatterns: list[URLPattern | URLResolver] = [
    path("authorize/", ConsentView.as_view(), name="authorize"),
    path("authorize/continue/", authorize_continue, name="authorize-continue"),
    path("userinfo/", UserInfo.as_view(), name="user-info"),
]
urlpatterns += [p for p in dot.base_urlpatterns if getattr(p, "name", None) in _BASE] + [
    p for p in dot.oidc_urlpatterns if getattr(p, "name", None) in _OIDC
]
