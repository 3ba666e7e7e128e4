// After django-otp-webauthn's script registered a passkey (event "otp_webauthn.register_complete"), post the
// page's form: the account's first factor gets its recovery codes there (accounts:mfa_passkey_registered).
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function () {
    var form = document.getElementById("passkey-registered-form");
    if (form) form.submit();
  });
})();
