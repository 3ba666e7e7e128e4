// 家长端: registers the service worker (static files only) and fills the binding code from the QR link's
// fragment (#c=…), which never reaches the server. No inline script anywhere (strict CSP).
(function () {
  "use strict";
  var me = document.currentScript;
  if ("serviceWorker" in navigator && me && me.dataset.sw) {
    navigator.serviceWorker.register(me.dataset.sw, { scope: "/m/" }).catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    var match = /(?:^#|&)c=([0-9A-Za-z-]{12,20})/.exec(window.location.hash);
    var input = document.getElementById("id_code");
    if (match && input && document.getElementById("bind-form")) {
      input.value = match[1].toUpperCase();
      history.replaceState(null, "", window.location.pathname);
    }
  });
})();
