"""The consent page's differences from django-oauth-toolkit's: a relying party cannot skip it with
``approval_prompt=auto``, and its Content-Security-Policy lets the consent form's submission end at the relying
party. Chromium applies ``form-action`` to the redirect that follows a form
post, and ours is ``'self'``, so without this the browser would refuse to return to the (registered, already
validated) redirect URI. Only that URI's origin is added, only on the consent page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.views import AuthorizationView, UserInfoView


class ConsentView(AuthorizationView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "approval_prompt" in request.GET:
            # The relying party may not skip the consent page (REQUEST_APPROVAL_PROMPT = "force").
            query = request.GET.copy()
            query["approval_prompt"] = "force"
            request.GET = query  # type: ignore[misc,assignment]
        response = super().get(request, *args, **kwargs)
        form = (
            getattr(response, "context_data", {}).get("form") if hasattr(response, "context_data") else None
        )
        redirect_uri = form.initial.get("redirect_uri") if form is not None else None
        if redirect_uri:
            parts = urlsplit(redirect_uri)
            response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}  # type: ignore[attr-defined]
        return response


class UserInfo(UserInfoView):
    """Userinfo only with the token in the Authorization header (RFC 6750 §5.3, RFC 9700 §4.3.2): a token in the
    query string ends up in proxy and access logs. The toolkit's gate does not cover this endpoint."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "access_token" in request.GET or "access_token" in request.POST:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "token in the URI"}, status=400
            )
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
