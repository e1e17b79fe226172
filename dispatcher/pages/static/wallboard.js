/* The wallboard: figures, alerts, the table per process and channel, the agents' grid. */
"use strict";
(() => {
  const G = Guichet;
  let received = Date.now(), agents = [];
  const alertText = (a) => {
    const what = G.label("alert", a.kind);
    if (a.kind === "service_level" || a.kind === "pickup_rate") return `${what} : ${G.pct(a.value)} < ${G.pct(a.threshold)}`;
    return `${what} : ${a.label || a.process} (${G.label("channel", a.channel)}) ${G.duration(a.value)}`;
  };
  const apply = (view) => {
    received = Date.now();
    for (const el of document.querySelectorAll("[data-figure]")) {
      const v = view.figures[el.dataset.figure];
      el.textContent = el.dataset.format === "pct" ? G.pct(v) : el.dataset.format === "duration" ? G.duration(v) : v;
    }
    document.getElementById("fig-sl").classList.toggle("alert", view.alerts.some((a) => a.kind === "service_level"));
    document.getElementById("fig-pickup").classList.toggle("alert", view.alerts.some((a) => a.kind === "pickup_rate"));
    const alerts = document.getElementById("alerts");
    alerts.replaceChildren(...(view.alerts.length ? view.alerts.map((a) => { const li = document.createElement("li"); li.textContent = alertText(a); return li; })
      : [Object.assign(document.createElement("li"), { textContent: G.labels.none, className: "none" })]));
    const groups = document.getElementById("groups");
    groups.replaceChildren(...view.groups.map((g) => {
      const tr = document.createElement("tr");
      tr.append(G.cell(g.label), G.cell(G.label("channel", g.channel)), G.cell(g.waiting, "num"), G.cell(G.duration(g.longest_wait_s), "num"),
        G.cell(g.answered, "num"), G.cell(g.abandoned, "num"), G.cell(G.pct(g.service_level), "num"));
      return tr;
    }));
    agents = view.agents;
    drawAgents();
  };
  const drawAgents = () => {
    const elapsed = (Date.now() - received) / 1000;
    document.getElementById("agents").replaceChildren(...agents.map((a) => {
      const tr = document.createElement("tr");
      const state = document.createElement("td");
      const badge = document.createElement("span");
      badge.className = "state state-" + a.state;
      badge.textContent = G.label("state", a.state) + (a.reason ? ` (${G.label("reason", a.reason)})` : "");
      state.append(badge);
      tr.append(G.cell(a.name), state, G.cell(a.since_s === null ? "–" : G.duration(a.since_s + elapsed), "num"),
        G.cell(a.process ? `${a.process_label} · ${G.label("channel", a.channel)}` : "–"));
      return tr;
    }));
  };
  const force = document.getElementById("force-form");
  force?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const agent = document.getElementById("force-agent"), state = document.getElementById("force-state").value;
    const r = await G.post(`/wallboard/agents/${encodeURIComponent(agent.value)}/state`, { state });
    const answer = await r.json();
    document.getElementById("force-message").textContent = r.ok
      ? `${agent.selectedOptions[0].textContent} : ${G.label("state", answer.before)} → ${G.label("state", answer.now)}`
      : answer.detail;
  });
  apply(JSON.parse(document.getElementById("initial").textContent));
  G.follow("/wallboard/events", apply);
  setInterval(drawAgents, 1000);
})();
