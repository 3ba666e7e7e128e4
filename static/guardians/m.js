// 家长端: registers the service worker (static files only) and carries the binding code of the slip's QR link
// (#c=…, a fragment, which never reaches the server). On every page the code moves from the address to this
// tab's sessionStorage and the fragment is removed (so it stays out of the history and of shared links); the
// binding page fills it in, also after the login the QR link led to, and forgets it. No inline script (CSP).
(function () {
  "use strict";
  var KEY = "xj_m_bind_code";
  var me = document.currentScript;
  if ("serviceWorker" in navigator && me && me.dataset.sw) {
    navigator.serviceWorker.register(me.dataset.sw, { scope: "/m/" }).catch(function () {});
  }

  function store(code) {
    try {
      window.sessionStorage.setItem(KEY, code);
    } catch (e) {
      /* storage disabled: the code is typed by hand */
    }
  }

  function take() {
    try {
      var code = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
      return code;
    } catch (e) {
      return null;
    }
  }

  var match = /(?:^#|&)c=([0-9A-Za-z-]{12,20})/.exec(window.location.hash);
  if (match) {
    store(match[1].toUpperCase());
  }
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("id_code");
    if (!input || !document.getElementById("bind-form")) {
      return;
    }
    var code = take();
    if (code && !input.value) {
      input.value = code;
    }
  });
})();
