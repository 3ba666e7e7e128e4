"""The security administrator's pages for relying parties of the digital identity (第24条)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from xueji.accounts.auth import actor_of
from xueji.core.errors import FieldError
from xueji.core.web import ui_errors

from . import services
from .forms import ClientForm
from .models import RelyingParty


@login_required
@ui_errors
@require_http_methods(["GET"])
def clients(request: HttpRequest) -> HttpResponse:
    services.require_security_admin(actor_of(request))
    parties = RelyingParty.objects.select_related("application", "registered_by").order_by("-registered_at")
    return render(request, "identity/clients.html", {"parties": parties})


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    services.require_security_admin(actor)
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = services.register(actor=actor, **form.cleaned_data)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # The secret is shown on this response only (its hash is stored): no redirect.
            return render(
                request, "identity/client_created.html", {"party": done.party, "secret": done.client_secret}
            )
    return render(request, "identity/client_new.html", {"form": form})


@login_required
@ui_errors
@require_POST
def client_disable(request: HttpRequest, party_id: int) -> HttpResponse:
    services.disable(actor=actor_of(request), party_id=party_id)
    return redirect("identity:clients")
