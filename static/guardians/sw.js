// 家长端 service worker. Caches STATIC FILES ONLY (css, js, icons under __STATIC_URL__), cache-first;
// every page and every other request goes to the network and is never stored: pages carry minors'
// personal data (security.md §2, docs/guardians.md).
"use strict";
const CACHE = "xueji-m-static-v1";
const STATIC_PREFIX = "__STATIC_URL__";

self.addEventListener("install", (event) => { self.skipWaiting(); });

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith(STATIC_PREFIX)) {
    return; // pages, captchas, forms: straight to the network, nothing cached
  }
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok && response.type === "basic") { cache.put(request, response.clone()); }
        return response;
      }))
    )
  );
});
