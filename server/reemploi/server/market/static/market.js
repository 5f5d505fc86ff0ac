// Réemploi web app: service worker, offline queue of forms replayed on reconnect.
// Forms marked data-offline are sent with fetch; when the network is down the form is
// kept in localStorage and replayed in order when it comes back. The server makes the
// replay harmless: every form carries a request_id, and a second copy finds the first.
"use strict";

const QUEUE_KEY = "reemploi-form-queue";

function readQueue() {
  try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
}
function writeQueue(queue) { localStorage.setItem(QUEUE_KEY, JSON.stringify(queue)); }

function showNet(text) {
  const box = document.getElementById("net");
  if (!box) return;
  box.textContent = text || "";
  box.hidden = !text;
}

function netText() {
  const html = document.documentElement;
  const fr = html.lang !== "en";
  const waiting = readQueue().length;
  if (!navigator.onLine) {
    return fr ? "Hors ligne : vos saisies sont gardées sur cet appareil (" + waiting + " en attente)."
              : "Offline: your entries are kept on this device (" + waiting + " waiting).";
  }
  if (waiting) return fr ? waiting + " envoi(s) en attente…" : waiting + " waiting to be sent…";
  return "";
}

async function replay() {
  let queue = readQueue();
  while (queue.length && navigator.onLine) {
    const item = queue[0];
    try {
      await fetch(item.url, {
        method: "POST", body: new URLSearchParams(item.body), credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
    } catch (e) {
      break; // still offline: keep it for later
    }
    queue = readQueue().slice(1);
    writeQueue(queue);
  }
  showNet(netText());
  document.dispatchEvent(new CustomEvent("reemploi:replayed"));
}

function interceptForms() {
  document.querySelectorAll("form[data-offline]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new URLSearchParams(new FormData(form)).toString();
      const url = form.getAttribute("action") || location.pathname;
      try {
        const response = await fetch(url, {
          method: "POST", body, credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        });
        if (response.redirected) { location.assign(response.url); return; }
        const html = await response.text();
        document.open(); document.write(html); document.close();
      } catch (e) {
        const queue = readQueue();
        queue.push({ url, body, at: Date.now() });
        writeQueue(queue);
        showNet(netText());
      }
    });
  });
}

window.addEventListener("online", replay);
window.addEventListener("offline", () => showNet(netText()));
document.addEventListener("DOMContentLoaded", () => {
  interceptForms();
  showNet(netText());
  if (navigator.onLine && readQueue().length) replay();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
  }
});
