"""The consent page's one difference from django-oauth-toolkit's: its Content-Security-Policy lets the consent
form's submission end at the relying party. Chromium applies ``form-action`` to the redirect that follows a form
post, and ours is ``'self'``, so without this the browser would refuse to return to the (registered, already
validated) redirect URI. Only that URI's origin is added, only on the consent page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import AuthorizationView


class ConsentView(AuthorizationView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        form = (
            getattr(response, "context_data", {}).get("form") if hasattr(response, "context_data") else None
        )
        redirect_uri = form.initial.get("redirect_uri") if form is not None else None
        if redirect_uri:
            parts = urlsplit(redirect_uri)
            response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}  # type: ignore[attr-defined]
        return response
