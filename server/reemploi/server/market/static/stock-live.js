// Live stock: the stock page listens to the server's feed of custody events (/api/live,
// server-sent events). When units change (a tap, a reservation, a sale), it fetches its
// own tables again with the same filters and swaps the rows, marking those that changed.
"use strict";

(function () {
  const box = document.getElementById("stock-tables");
  if (!box || !("EventSource" in window)) return;
  const status = document.getElementById("stock-live");
  let timer = null;

  function swapBody(fresh, id) {
    const oldBody = box.querySelector("#" + id + " tbody");
    const newBody = fresh.querySelector("#" + id + " tbody");
    if (!oldBody || !newBody) return;
    const before = new Map(Array.from(oldBody.rows, (row) => [row.dataset.row, row.innerHTML]));
    for (const row of newBody.rows) {
      if (row.dataset.row && before.get(row.dataset.row) !== row.innerHTML) row.classList.add("changed");
    }
    oldBody.replaceWith(newBody);
  }

  async function refresh() {
    timer = null;
    let html;
    try {
      const reply = await fetch(box.dataset.liveRows + location.search,
        { credentials: "same-origin", cache: "no-store" });
      if (!reply.ok) return;
      html = await reply.text();
    } catch (e) {
      return; // offline: the next event or a reload will bring the stock back
    }
    const fresh = document.createElement("div");
    fresh.innerHTML = html;
    swapBody(fresh, "stock-summary");
    swapBody(fresh, "stock-items");
    const count = fresh.querySelector("#stock-count");
    if (count) box.querySelector("#stock-count").textContent = count.textContent;
    box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
    if (status) status.textContent = status.dataset.updated + " " + new Date().toLocaleTimeString();
  }

  const feed = new EventSource("/api/live");
  feed.onopen = () => { box.dataset.live = "open"; };
  feed.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if ((message.type === "custody" || message.type === "stock") && !timer) {
      timer = setTimeout(refresh, 200); // one refresh for a burst of events
    }
  };
  window.addEventListener("pagehide", () => feed.close());
})();
