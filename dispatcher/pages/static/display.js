/* The waiting-room display: each call of the site, newest first, from the counter's SSE stream. */
"use strict";
(() => {
  const G = Guichet;
  const draw = (calls) => {
    document.getElementById("calls").replaceChildren(...calls.map((c) => {
      const li = document.createElement("li");
      const t = Object.assign(document.createElement("span"), { className: "t", textContent: c.ticket });
      const arrow = Object.assign(document.createElement("span"), { textContent: "→" });
      arrow.setAttribute("aria-hidden", "true");
      const to = Object.assign(document.createElement("span"), { className: "sr-only", textContent: G.labels.to });
      li.append(t, arrow, to, Object.assign(document.createElement("span"), { className: "c", textContent: c.counter }));
      return li;
    }));
  };
  const status = document.getElementById("live-status");
  const source = new EventSource("/api/v1/display/events");
  const apply = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.calls) draw(frame.calls);
    if (frame.waiting !== undefined) document.getElementById("waiting").textContent = frame.waiting;
    status.textContent = G.labels.live_ok;
  };
  source.addEventListener("state", apply);
  source.addEventListener("call", apply);
  source.onerror = () => { status.textContent = G.labels.live_lost; };
})();
