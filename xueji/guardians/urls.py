"""``/guardian-requests/``: the school's worklist of guardian requests and binding codes
(config/urls.py: ``path("guardian-requests/", include("xueji.guardians.urls"))``)."""

from django.urls import path

from . import views as v

app_name = "guardians"

urlpatterns = [
    path("", v.worklist_view, name="worklist"),
    path("<uuid:request_id>/", v.request_view, name="request"),
    path("<uuid:request_id>/accept/", v.accept_view, name="accept"),
    path("<uuid:request_id>/decline/", v.decline_view, name="decline"),
    path("pupils/", v.find_pupil_view, name="find_pupil"),
    path("pupils/<uuid:person_id>/", v.binding_view, name="binding"),
    path("pupils/<uuid:person_id>/issue/", v.issue_view, name="issue"),
    path("codes/<uuid:binding_id>/revoke/", v.code_revoke_view, name="code_revoke"),
    path("links/<uuid:link_id>/revoke/", v.link_revoke_view, name="link_revoke"),
]
