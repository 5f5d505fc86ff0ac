// Tap a tag with the phone: Web NFC where the browser has it (Android Chrome), else the
// camera (BarcodeDetector) for the label's QR code, else typing the code. Each tap is the
// reader's scan message (kind, data, seq, clock) sent to /api/market/tap; offline taps
// are queued with their sequence number and replayed: the server acknowledges a replay
// as a duplicate of the first, like a reader's.
"use strict";

(function () {
  const root = document.getElementById("tap");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const QUEUE = "reemploi-tap-queue";
  const SEQ = "reemploi-tap-seq";
  const result = document.getElementById("tap-result");
  const log = document.getElementById("tap-log");
  const mode = document.getElementById("tap-mode");

  const msg = (key) => root.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
  const queue = () => { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } };
  const saveQueue = (q) => localStorage.setItem(QUEUE, JSON.stringify(q));

  function feedback(kind, text) {
    result.className = "feedback fb-" + kind;
    result.textContent = text;
    const li = document.createElement("li");
    li.className = "fb-" + kind;
    li.textContent = new Date().toLocaleTimeString() + " — " + text;
    log.prepend(li);
    if (navigator.vibrate) navigator.vibrate(kind === "accepted" ? 80 : [60, 60, 60]);
  }

  async function nextSeq() {
    let seq = parseInt(localStorage.getItem(SEQ) || "0", 10);
    if (!seq && navigator.onLine) {
      try {
        const r = await fetch("/api/market/tap/device", { credentials: "same-origin" });
        if (r.ok) seq = (await r.json()).next_seq - 1;
      } catch (e) { /* offline: start from the stored value */ }
    }
    seq += 1;
    localStorage.setItem(SEQ, String(seq));
    return seq;
  }

  async function post(scan) {
    const r = await fetch("/api/market/tap", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(scan),
    });
    return r.json();
  }

  async function send(kind, data) {
    const scan = { seq: await nextSeq(), kind, data, clock: Date.now() };
    try {
      const ack = await post(scan);
      const key = ack.result || "rejected";
      feedback(key, msg(key) + (ack.message ? " — " + ack.message : "") + (ack.duplicate ? " (×2)" : ""));
    } catch (e) {
      const q = queue(); q.push(scan); saveQueue(q);
      feedback("queued", msg("queued") + " (" + q.length + ")");
    }
  }

  async function replay() {
    let q = queue();
    while (q.length && navigator.onLine) {
      try {
        const ack = await post(q[0]);
        feedback(ack.result || "rejected", msg(ack.result || "rejected") + " — " + q[0].data);
      } catch (e) { break; }
      q = queue().slice(1); saveQueue(q);
    }
  }
  window.addEventListener("online", replay);
  if (navigator.onLine) replay();

  function kindOf(text) {
    return /^https?:\/\//.test(text) ? "qr" : (/^[0-9A-F]{8}([0-9A-F]{6})?([0-9A-F]{6})?$/.test(text) ? "nfc_uid" : "qr");
  }

  document.getElementById("tap-manual").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("tap-data");
    const text = input.value.trim();
    if (text) send(kindOf(text.toUpperCase() === text ? text : text), text);
    input.value = "";
    input.focus();
  });

  if ("NDEFReader" in window) {
    const button = document.getElementById("nfc-start");
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        const reader = new NDEFReader();
        await reader.scan();
        mode.textContent = msg("nfc");
        reader.addEventListener("reading", ({ message, serialNumber }) => {
          const record = message.records.find((r) => r.recordType === "url" || r.recordType === "absolute-url");
          if (record) {
            send("ndef_uri", new TextDecoder().decode(record.data));
          } else if (serialNumber) {
            send("nfc_uid", serialNumber.replace(/:/g, "").toUpperCase());
          }
        });
      } catch (e) { mode.textContent = msg("nonfc"); }
    });
  } else {
    mode.textContent = msg("nonfc");
  }

  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    const button = document.getElementById("camera-start");
    const video = document.getElementById("camera");
    button.hidden = false;
    button.addEventListener("click", async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream; video.hidden = false; await video.play();
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      let last = "";
      const tick = async () => {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; send("qr", last); }
        if (!video.hidden) requestAnimationFrame(tick);
      };
      tick();
    });
  }
})();
