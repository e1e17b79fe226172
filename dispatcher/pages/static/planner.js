/* A running calculation: its progress bar, then the page again with the charts. */
"use strict";
(() => {
  const job = document.currentScript.dataset.job;
  const bar = document.getElementById("progress");
  const poll = async () => {
    const r = await fetch(`/planner/jobs/${job}/status`, { credentials: "same-origin" });
    const s = await r.json();
    bar.value = Math.round(s.progress * 100);
    bar.textContent = bar.value + " %";
    if (s.status !== "running") { location.reload(); return; }
    setTimeout(poll, 400);
  };
  poll();
})();
