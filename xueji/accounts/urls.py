from django.urls import path

from . import factor_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("mfa/verify/", factor_views.mfa_verify, name="mfa_verify"),
    path("mfa/setup/", factor_views.mfa_setup, name="mfa_setup"),
    path("mfa/recovery/", factor_views.mfa_recovery_renew, name="mfa_recovery"),
    path("accounts/<int:pk>/mfa-reset/", factor_views.mfa_reset, name="mfa_reset"),
    path("session/status/", views.session_status_view, name="session_status"),
    path("session/keepalive/", views.session_keepalive_view, name="session_keepalive"),
    path("accounts/", views.user_list_view, name="users"),
    path("accounts/new/", views.user_create_view, name="user_create"),
    path("accounts/<int:pk>/", views.user_detail_view, name="user_detail"),
    path("accounts/<int:pk>/seal/", views.user_seal_view, name="user_seal"),
    path("accounts/<int:pk>/unseal/", views.user_unseal_view, name="user_unseal"),
    path("accounts/<int:pk>/reset-password/", views.user_reset_password_view, name="user_reset_password"),
    path("accounts/<int:pk>/grants/", views.grant_create_view, name="grant_create"),
    path("accounts/<int:pk>/filing/", views.filing_view, name="filing"),
    path("accounts/grants/<int:pk>/revoke/", views.grant_revoke_view, name="grant_revoke"),
    path("accounts/resets/<int:pk>/confirm/", views.reset_confirm_view, name="reset_confirm"),
]
