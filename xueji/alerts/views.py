"""The security administrator's alert console (第23条): open alerts first, acknowledge/resolve with a note and
history, and the rules with their thresholds."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xueji.accounts.auth import actor_of
from xueji.core.errors import FieldError, NotFound
from xueji.core.pagination import CappedPaginator
from xueji.core.web import ui_errors

from . import services
from .enums import AlertState
from .forms import HandleForm, RuleForm
from .models import Alert, AlertRule


@login_required
@ui_errors
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    services.require_security_admin(actor_of(request))
    state = request.GET.get("state", "open")
    alerts = Alert.objects.all()
    if state in AlertState.values:
        alerts = alerts.filter(state=state)
    page = CappedPaginator(alerts.order_by("-raised_at", "-pk"), 50).get_page(request.GET.get("page"))
    tabs = [(value, label, Alert.objects.filter(state=value).count()) for value, label in AlertState.choices]
    return render(request, "alerts/console.html", {"page": page, "state": state, "tabs": tabs})


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    actor = actor_of(request)
    services.require_security_admin(actor)
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        raise NotFound()
    form = HandleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.handle(actor=actor, alert_id=alert_id, **form.cleaned_data)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("alerts:detail", alert_id=alert_id)
    return render(
        request,
        "alerts/detail.html",
        {"alert": alert, "actions": alert.actions.select_related("actor"), "form": form},
    )


@login_required
@ui_errors
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    services.require_security_admin(actor_of(request))
    rows = AlertRule.objects.all()
    forms = [
        (
            r,
            RuleForm(
                initial={
                    "threshold": r.threshold,
                    "window_seconds": r.window_seconds,
                    "severity": r.severity,
                    "enabled": r.enabled,
                    "notify_upper": r.notify_upper,
                },
                prefix=f"r{r.pk}",
            ),
        )
        for r in rows
    ]
    return render(request, "alerts/rules.html", {"forms": forms})


@login_required
@ui_errors
@require_POST
def rule_update(request: HttpRequest, rule_id: int) -> HttpResponse:
    actor = actor_of(request)
    services.require_security_admin(actor)
    form = RuleForm(request.POST, prefix=f"r{rule_id}")
    if form.is_valid():
        services.rule_update(actor=actor, rule_id=rule_id, **form.cleaned_data)
        return redirect("alerts:rules")
    rule = AlertRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return render(request, "alerts/rules.html", {"forms": [(rule, form)]}, status=400)
