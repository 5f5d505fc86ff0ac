// Service worker of the Réemploi web app: the shell works offline; pages come from the
// network first and from the cache when it is down; forms are queued by market.js.
const CACHE = "reemploi-m-v2";
const SHELL = ["/m/hors-ligne", "/m/static/market.css", "/m/static/market.js", "/m/static/tap.js", "/m/static/stock-live.js",
  "/m/static/icon.svg", "/m/static/icon-192.png", "/m/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // forms and taps: market.js queues them
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (url.pathname.startsWith("/m/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).then((response) => {
        const copy = response.clone();
        if (response.ok) caches.open(CACHE).then((c) => c.put(request, copy));
        return response;
      }).catch(() => caches.match(request).then((hit) => hit || caches.match("/m/hors-ligne"))));
  }
});
