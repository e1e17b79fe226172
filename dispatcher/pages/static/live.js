/* Guichet: the shared helpers of the live pages (no framework, no build step). */
"use strict";
const Guichet = (() => {
  const labels = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const pct = (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + " %");
  const duration = (s) => {
    if (s === null || s === undefined) return "–";
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  };
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  const label = (group, key) => (labels[group] && labels[group][key]) || key;
  /* An EventSource that says on the page whether it is live, and hands each snapshot to `apply`. */
  const follow = (url, apply) => {
    const status = document.getElementById("live-status");
    const source = new EventSource(url);
    source.addEventListener("snapshot", (e) => { apply(JSON.parse(e.data)); if (status) status.textContent = labels.live_ok; });
    source.onerror = () => { if (status) status.textContent = labels.live_lost; };
    return source;
  };
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const post = (url, body) => fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(body || {}),
  });
  return { labels, pct, duration, cell, label, follow, post };
})();
