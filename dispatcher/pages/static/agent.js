/* The agent's page: live view, and each button as one POST acting on the agent themself. */
"use strict";
(() => {
  const G = Guichet;
  let received = Date.now(), since = null;
  const $ = (id) => document.getElementById(id);
  const apply = (view) => {
    received = Date.now();
    const a = view.agent;
    since = a.since_s;
    $("state").className = "state state-" + a.state;
    $("state").textContent = G.label("state", a.state) + (a.reason ? ` (${G.label("reason", a.reason)})` : "");
    $("softphone").textContent = G.label("softphone", a.softphone);
    const c = view.contact;
    $("contact").hidden = !c;
    $("contact-none").hidden = !!c;
    if (c) {
      $("c-label").textContent = c.label;
      $("c-channel").textContent = G.label("channel", c.channel);
      $("c-waited").textContent = G.duration(c.waited_s);
      $("c-citizen").textContent = c.caller || c.ticket || "–";
      $("c-record").textContent = c.citizen_id || "–";
      const history = c.history || [];
      $("c-week").textContent = !c.week ? "" : (c.week === 1 ? G.labels.week_one : G.labels.week_many.replace("{n}", c.week));
      $("c-history").replaceChildren(...history.map((h) => {
        const tr = document.createElement("tr");
        tr.append(G.cell(h.when), G.cell(h.label), G.cell(G.label("channel", h.channel)), G.cell(h.outcome || "–"));
        return tr;
      }));
      $("c-history-none").hidden = history.length > 0;
      const s = c.sheet;
      $("c-sheet").hidden = !s;
      if (s) {
        $("sheet-name").textContent = s.title || s.ref;
        const lines = (items) => items.map((line) => { const li = document.createElement("li"); li.textContent = line; return li; });
        $("sheet-pieces").replaceChildren(...lines(s.pieces));
        $("sheet-steps").replaceChildren(...lines(s.steps));
        $("sheet-delay").textContent = s.delay || "–";
        $("sheet-link").hidden = !s.link;
        $("sheet-link").href = s.link || "#";
      }
    }
    const d = view.desk;
    if (d) {
      $("desk-line").textContent = d.counter || G.labels.no_counter;
      $("desk-called").textContent = d.called ? d.called.ticket : "–";
    }
    $("tray-total").textContent = view.tray_total;
    $("tray").replaceChildren(...view.tray.map((t) => {
      const tr = document.createElement("tr");
      tr.append(G.cell(t.label), G.cell(G.label("channel", t.channel)), G.cell(t.deadline_in_s === null ? "–" : G.duration(t.deadline_in_s), "num"));
      return tr;
    }));
    tick();
  };
  const tick = () => { $("timer").textContent = since === null ? "–" : G.duration(since + (Date.now() - received) / 1000); };
  const act = async (body) => {
    const r = await G.post("/agent/action", body);
    const answer = await r.json();
    $("message").textContent = r.ok ? "" : answer.detail;
    if (r.ok) apply(answer);
  };
  for (const b of document.querySelectorAll("button[data-action]")) b.addEventListener("click", () => act({ action: b.dataset.action }));
  $("pause-form").addEventListener("submit", (e) => { e.preventDefault(); act({ action: "pause", reason: $("pause-reason").value }); });
  $("requalify-form").addEventListener("submit", (e) => { e.preventDefault(); act({ action: "requalify", process: $("requalify-process").value }); });
  $("counter-form")?.addEventListener("submit", (e) => { e.preventDefault(); act({ action: "counter_open", counter: $("counter-name").value }); });
  apply(JSON.parse($("initial").textContent));
  G.follow("/agent/events", apply);
  setInterval(tick, 1000);
})();
