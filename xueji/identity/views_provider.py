"""The consent page's differences from django-oauth-toolkit's.

- A relying party cannot skip it with ``approval_prompt=auto``.
- Its Content-Security-Policy lets the consent form's submission end at the relying party. Chromium applies
  ``form-action`` to the redirect that follows a form post, and ours is ``'self'``, so without this the browser
  would refuse to return to the (registered, already validated) redirect URI. Only that URI's origin is added,
  only on the consent page.
- Who signs in depends on the relying party's audience (第24条). A staff system: the staff session, as on every
  staff page. A guardians' system: the 家长端 session only (its cookie, :mod:`xueji.guardians.middleware`;
  a staff session in the same browser is ignored): a guardian not signed in goes to ``/m/login/`` and comes
  back through ``/o/authorize/continue/`` (the authorization request waits in the session: it is longer than
  the guardian end accepts as a return address); the consent page is the phone-first one of the guardian end.
  The codes and tokens then belong to the guardian's stand-in account (:func:`.claims.principal_for`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from oauth2_provider.views import AuthorizationView, UserInfoView

from xueji.guardians import conf as guardian_conf
from xueji.guardians.models import GuardianAccount
from xueji.guardians.services import session_resume

from .claims import children_of, principal_for
from .models import RelyingParty
from .scopes import ENROLLMENT, Audience

PENDING = "xueji.identity.pending"
CONTINUE_PATH = "/o/authorize/continue/"


def signed_in_guardian(request: HttpRequest) -> GuardianAccount | None:
    """The guardian signed in to the 家长端 in this browser (its cookie and live server-side session), or None."""
    raw = request.COOKIES.get(guardian_conf.cookie_name(), "")
    session = session_resume(raw) if raw else None
    return session.account if session is not None else None


def _party(request: HttpRequest) -> RelyingParty | None:
    client_id = request.POST.get("client_id") if request.method == "POST" else request.GET.get("client_id")
    if not client_id:
        return None
    return (
        RelyingParty.objects.select_related("application")
        .filter(application__client_id=client_id, disabled_at__isnull=True)
        .first()
    )


class ConsentView(AuthorizationView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        party = _party(request)
        self.for_guardian = party is not None and party.audience == Audience.GUARDIAN
        if self.for_guardian:
            account = signed_in_guardian(request)
            if account is None:
                if request.method == "GET":
                    request.session[PENDING] = request.GET.urlencode()
                login = reverse("guardians_m:login")
                return HttpResponseRedirect(f"{login}?{urlencode({'next': CONTINUE_PATH})}")
            request.user = principal_for(account)
            request.guardian = account  # type: ignore[attr-defined]  # the phone layout's logout button
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """On a guardian's consent page, the children whose enrollment the system would learn (the guardian
        sees what it agrees to share)."""
        context: dict[str, Any] = super().get_context_data(**kwargs)
        account = getattr(self.request, "guardian", None)
        if (
            getattr(self, "for_guardian", False)
            and account is not None
            and ENROLLMENT in kwargs.get("scopes", [])
        ):
            context["children"] = children_of(account)
        return context

    def get_template_names(self) -> list[str]:
        if getattr(self, "for_guardian", False):
            return ["identity/consent_m.html"]
        return [self.template_name]

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


@require_GET
def authorize_continue(request: HttpRequest) -> HttpResponse:
    """Back from the guardian login: the authorization request that waited in the session, once."""
    query = request.session.pop(PENDING, None)
    if not query:
        return render(request, "identity/expired_m.html", status=400)
    return HttpResponseRedirect(f"{reverse('oauth2_provider:authorize')}?{query}")


class UserInfo(UserInfoView):
    """Userinfo only with the token in the Authorization header (RFC 6750 §5.3, RFC 9700 §4.3.2): a token in the
    query string ends up in proxy and access logs. The toolkit's gate does not cover this endpoint."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "access_token" in request.GET or "access_token" in request.POST:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "token in the URI"}, status=400
            )
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
