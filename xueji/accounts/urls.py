from django.urls import path

from . import factor_views, views, webauthn

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("mfa/verify/", factor_views.mfa_verify, name="mfa_verify"),
    path("mfa/setup/", factor_views.mfa_setup, name="mfa_setup"),
    path("mfa/recovery/", factor_views.mfa_recovery_renew, name="mfa_recovery"),
    path("mfa/", factor_views.mfa_factors, name="mfa_factors"),
    path("mfa/setup/sm3/", factor_views.mfa_setup_sm3, name="mfa_setup_sm3"),
    path("mfa/devices/<str:kind>/<int:pk>/remove/", factor_views.mfa_device_remove, name="mfa_device_remove"),
    path("mfa/api-token/", factor_views.mfa_api_token, name="mfa_api_token"),
    path("mfa/webauthn/registered/", factor_views.mfa_passkey_registered, name="mfa_passkey_registered"),
    path("mfa/webauthn/i18n.js", factor_views.webauthn_catalog, name="webauthn_catalog"),
    path("mfa/webauthn/register/begin/", webauthn.RegisterBegin.as_view(), name="webauthn_register_begin"),
    path(
        "mfa/webauthn/register/complete/",
        webauthn.RegisterComplete.as_view(),
        name="webauthn_register_complete",
    ),
    path("mfa/webauthn/auth/begin/", webauthn.AuthenticateBegin.as_view(), name="webauthn_auth_begin"),
    path(
        "mfa/webauthn/auth/complete/", webauthn.AuthenticateComplete.as_view(), name="webauthn_auth_complete"
    ),
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
